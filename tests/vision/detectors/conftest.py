"""Real inputs for detector tests: vtest frames with the people in them counted by eye."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

# Frame index → people clearly visible (counted by looking at the frames).
VTEST_PEOPLE = {200: 7, 300: 6, 600: 6, 700: 8}


@pytest.fixture(scope="session")
def vtest_people_frames(vtest_path: Path) -> dict[int, tuple[np.ndarray, int]]:
    capture = cv2.VideoCapture(str(vtest_path))
    frames: dict[int, tuple[np.ndarray, int]] = {}
    for index in range(max(VTEST_PEOPLE) + 1):
        ok, frame = capture.read()
        assert ok, f"vtest.avi ended at frame {index}"
        if index in VTEST_PEOPLE:
            frames[index] = (frame, VTEST_PEOPLE[index])
    capture.release()
    return frames
