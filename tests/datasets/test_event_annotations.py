"""Every shipped event annotation parses, names an existing camera config, and has sane spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from autofine.contract import VIOLATION_TYPES
from evaluation.events import load_annotation

EVENTS = Path(__file__).resolve().parents[2] / "datasets" / "events"
ANNOTATIONS = sorted(EVENTS.glob("*.yaml"))


def test_there_are_real_and_synthetic_annotations() -> None:
    names = [p.stem for p in ANNOTATIONS]
    assert "vtest" in names and any(n.startswith("synthetic_") for n in names)


@pytest.mark.parametrize("path", ANNOTATIONS, ids=lambda p: p.stem)
def test_annotation_is_valid(path: Path) -> None:
    clip = load_annotation(path, resolve=False)
    assert clip.camera_path is not None and clip.camera_path.is_file()
    assert clip.annotation.events
    for event in clip.annotation.events:
        assert event.type in VIOLATION_TYPES
        if event.box is not None:
            assert event.start - 1 <= event.box.t <= event.end + 1
            x1, y1, x2, y2 = event.box.xyxy
            assert x2 > x1 and y2 > y1
