"""Test factories: one per value object (scripted detections, tracks, frames) and a tiny scripted detector."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from autofine.contract import ModelInfo
from vision.detections import Detections
from vision.detectors.base import Detector
from vision.frame import Frame
from vision.tracking import Track, TrackPoint

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
FAKE_MODEL = ModelInfo(id="scripted", version="0", sha256="0" * 64)


def make_frame(
    index: int, *, fps: float = 5.0, size: tuple[int, int] = (640, 480), camera_id: str = "cam"
) -> Frame:
    w, h = size
    return Frame(camera_id, index, T0 + timedelta(seconds=index / fps), np.zeros((h, w, 3), dtype=np.uint8))


def make_track(
    track_id: int,
    feet: Sequence[tuple[float, float]],
    *,
    fps: float = 5.0,
    height: float = 80.0,
    width: float = 30.0,
    confidence: float = 0.8,
    start_index: int = 0,
) -> Track:
    """A person track whose foot point follows `feet`, one point per analysed frame."""
    track = Track(track_id, "person", deque(maxlen=300))
    for i, (x, y) in enumerate(feet):
        index = start_index + i
        box = (x - width / 2, y - height, x + width / 2, y)
        track.history.append(TrackPoint(index, T0 + timedelta(seconds=index / fps), box, confidence))
    return track


class ScriptedDetector(Detector):
    """Returns whatever `script(frame_number)` says; `frame_number` counts calls from 0."""

    def __init__(self, script: Callable[[int], Detections]) -> None:
        self.names = {0: "person"}
        self.model_info = FAKE_MODEL
        self.script = script
        self.calls = 0

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        out = []
        for _ in images:
            out.append(self.script(self.calls))
            self.calls += 1
        return out
