"""The pipeline on scripted detections (real tracker, rules, confirmation, evidence, sinks; fake pixels)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autofine.errors import UserError
from tests.helpers import ScriptedDetector, make_frame
from vision.detections import Detections
from vision.pipeline import CameraPipeline
from vision.scene import CameraConfig
from vision.sinks import DirectorySink, ListSink, read_violations

ROAD = [[0, 200], [640, 200], [640, 470], [0, 470]]
CROSSWALK = [[280, 200], [360, 200], [360, 470], [280, 470]]
FPS = 5.0


def _config(**zones) -> CameraConfig:  # noqa: ANN003
    return CameraConfig.model_validate(
        {
            "camera_id": "cam",
            "analysis_fps": FPS,
            "zones": zones or {"road": [ROAD], "crosswalk": [CROSSWALK]},
            "motion": {"enabled": False},  # blank frames: only the scripted detections move
        }
    )


def _person(x: float, foot_y: float, conf: float = 0.85) -> list[float]:
    return [x - 15, foot_y - 80, x + 15, foot_y]


def _walker(x: float, gap: range | None = None, frames: int = 60):  # noqa: ANN202
    """A person crossing the road north→south at column x, 5 px per frame, optionally unseen during `gap`."""

    def script(i: int) -> Detections:
        if i >= frames or (gap is not None and i in gap):
            return Detections.empty()
        return Detections.from_lists([_person(x, 180 + 5 * i)], [0.85], ["person"])

    return script


def _run(config: CameraConfig, script, frames: int = 60, sinks=None):  # noqa: ANN001, ANN202
    sink = ListSink()
    pipeline = CameraPipeline(config, ScriptedDetector(script), [sink, *(sinks or [])])
    for i in range(frames):
        pipeline.process(make_frame(i, fps=FPS))
    pipeline.flush()
    pipeline.close()
    return sink.records, pipeline


def test_crossing_outside_the_crosswalk_gives_one_violation(tmp_path: Path) -> None:
    directory = DirectorySink(tmp_path)
    records, pipeline = _run(_config(), _walker(100), sinks=[directory])
    assert len(records) == 1
    record = records[0]
    assert record.violation_type == "jaywalking" and record.zones == ["road"]
    assert read_violations(tmp_path / "violations.jsonl") == records
    assert sorted(p.name for p in (tmp_path / "evidence" / record.incident_id).iterdir()) == [
        f"{record.incident_id}_clip.mp4",
        f"{record.incident_id}_snapshot.jpg",
    ]
    assert pipeline.stats.frames == 60 and pipeline.stats.violations["jaywalking"] == 1
    assert all(v >= 0 for v in pipeline.stats.stage_s.values()) and pipeline.stats.stage_s["detect"] > 0


def test_crossing_inside_the_crosswalk_gives_none() -> None:
    records, pipeline = _run(_config(), _walker(320))
    assert records == []
    assert pipeline.stats.frames == 60 and pipeline.stats.candidates == 0


def test_lost_and_refound_person_is_one_incident() -> None:
    # unseen for 3 s (longer than lost_track_s = 2 s), so ByteTrack hands out a new id when they reappear
    records, pipeline = _run(_config(), _walker(100, gap=range(20, 35)))
    assert len(records) == 1
    assert pipeline.confirmer.suppressed == 1
    # without a cooldown the same walk gives two incidents: the check above is not vacuous
    config = _config()
    config.rules.jaywalking.confirm.cooldown_s = 0
    records, pipeline = _run(config, _walker(100, gap=range(20, 35)))
    assert len(records) == 2 and pipeline.confirmer.suppressed == 0


def test_no_road_no_violation() -> None:
    records, _ = _run(_config(crosswalk=[CROSSWALK]), _walker(100))
    assert records == []


def test_zones_outside_the_real_frame_fail_at_the_first_frame() -> None:
    config = _config(road=[[[0, 0], [900, 0], [900, 100]]])
    pipeline = CameraPipeline(config, ScriptedDetector(_walker(100)), [ListSink()])
    with pytest.raises(UserError, match="outside the 640x480 frame"):
        pipeline.process(make_frame(0))
    pipeline.close()
