"""Smoking on scripted detection streams, through the real tracker, confirmation and evidence stages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.helpers import ScriptedDetector, make_frame, make_track
from vision.detections import Detections
from vision.pipeline import CameraPipeline
from vision.rules.base import Observation
from vision.rules.smoking import SmokingConfig, SmokingRule, TwoStageSmokingConfig
from vision.scene import CameraConfig, Scene, ZonesConfig

FPS = 5.0
NO_SMOKING = [[0, 0], [320, 0], [320, 480], [0, 480]]  # left half of a 640×480 frame
PERSON_IN = (100.0, 100.0, 160.0, 300.0)  # foot (130, 300): inside the zone
PERSON_OUT = (450.0, 100.0, 510.0, 300.0)  # foot (480, 300): outside


def _head_cigarette(person: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x1, y1, x2, _ = person
    cx, cy = (x1 + x2) / 2 + 12, y1 + 30  # at the mouth
    return (cx - 6, cy - 3, cx + 6, cy + 3)


def _stream(person, cigarette_at, frames: int):
    """Detections per frame: the person always, the cigarette where `cigarette_at(i)` gives a box."""

    def script(i: int) -> Detections:
        boxes, confs, names = [list(person)], [0.9], ["person"]
        cig = cigarette_at(i) if i < frames else None
        if cig is not None:
            boxes.append(list(cig))
            confs.append(0.7)
            names.append("cigarette")
        return Detections.from_lists(boxes, confs, names)

    return script


def _run(script, frames: int = 10) -> list:
    config = CameraConfig(
        camera_id="smoke-test",
        analysis_fps=FPS,
        zones=ZonesConfig(no_smoking=[NO_SMOKING]),
        rules={
            "jaywalking": {"enabled": False},
            "littering": {"enabled": False},
            "smoking": {"confirm": {"votes": 6, "window": 10, "min_confidence": 0.3}},
        },
    )
    pipeline = CameraPipeline(config, ScriptedDetector(script), [])
    records = []
    try:
        for i in range(frames):
            records += pipeline.process(make_frame(i, fps=FPS, camera_id="smoke-test"))
        records += pipeline.flush()
    finally:
        pipeline.close()
    return records


@pytest.mark.parametrize(
    ("case", "person", "cigarette_at", "expected"),
    [
        ("at the mouth for 2 s, in the zone", PERSON_IN, lambda i: _head_cigarette(PERSON_IN), 1),
        ("at the mouth for 2 s, outside the zone", PERSON_OUT, lambda i: _head_cigarette(PERSON_OUT), 0),
        ("far from any person", PERSON_IN, lambda i: (250.0, 420.0, 262.0, 426.0), 0),
        ("single-frame flicker", PERSON_IN, lambda i: _head_cigarette(PERSON_IN) if i == 4 else None, 0),
        ("no cigarette at all", PERSON_IN, lambda i: None, 0),
    ],
)
def test_smoking_through_confirmation(case, person, cigarette_at, expected) -> None:
    records = _run(_stream(person, cigarette_at, frames=10), frames=10)
    smoking = [r for r in records if r.violation_type == "smoking"]
    assert len(smoking) == expected, case
    assert len(records) == expected  # no other rule fired on the scripted stream
    if expected:
        record = smoking[0]
        assert record.zones == ["no_smoking"]
        assert record.boxes, "the offender's boxes are in the record"
        assert (record.confirmed_at - record.onset).total_seconds() >= 1.0  # votes span ≥ 6 frames at 5 fps


def _observation(person_box, cigarette_box, index: int = 0) -> Observation:
    x1, y1, x2, y2 = person_box
    track = make_track(3, [((x1 + x2) / 2, y2)], height=y2 - y1, width=x2 - x1, start_index=index)
    boxes = [list(person_box)] + ([list(cigarette_box)] if cigarette_box else [])
    names = ["person"] + (["cigarette"] if cigarette_box else [])
    dets = Detections.from_lists(boxes, [0.9] * len(boxes), names)
    return Observation(frame=make_frame(index), detections=dets, tracks={3: track})


@pytest.mark.parametrize(
    ("cigarette", "where", "score"),
    [
        ((140, 120, 152, 126), "head", 0.9),  # at the mouth
        ((165, 200, 177, 206), "hand", 0.72),  # held out at hip height, right of the body
        ((128, 285, 140, 291), None, None),  # at the feet: a butt on the ground, not smoking
        ((300, 120, 312, 126), None, None),  # beside the head but far outside the box
        (None, None, None),  # nothing
    ],
)
def test_cigarette_is_attached_by_box_geometry(cigarette, where, score) -> None:
    rule = SmokingRule(SmokingConfig(), Scene(ZonesConfig(no_smoking=[NO_SMOKING])))
    candidates = rule.evaluate(_observation(PERSON_IN, cigarette))
    if where is None:
        assert candidates == []
        return
    assert len(candidates) == 1
    assert candidates[0].details["where"] == where
    assert candidates[0].score == pytest.approx(score)
    assert candidates[0].track_id == 3


def test_custom_class_names_plug_in() -> None:
    """A fine-tuned model with other class names works by configuration alone."""
    rule = SmokingRule(SmokingConfig(cigarette_classes=["cig"]), Scene(ZonesConfig(no_smoking=[NO_SMOKING])))
    obs = _observation(PERSON_IN, (140, 120, 152, 126))
    assert rule.evaluate(obs) == []  # "cigarette" is not one of this camera's classes
    dets = Detections.from_lists([list(PERSON_IN), [140, 120, 152, 126]], [0.9, 0.6], ["person", "cig"])
    candidates = rule.evaluate(Observation(frame=obs.frame, detections=dets, tracks=obs.tracks))
    assert [c.details["cigarette_confidence"] for c in candidates] == [pytest.approx(0.6)]


@pytest.mark.parametrize(
    ("config", "counted"),
    [
        (SmokingConfig(), [0.35]),  # a detector with its own cigarette class: 0.3
        (
            SmokingConfig(two_stage=TwoStageSmokingConfig(conf=0.2)),
            [0.25, 0.35],
        ),  # the model's operating point
        (SmokingConfig(two_stage=TwoStageSmokingConfig(conf=0.2), min_cigarette_confidence=0.4), []),
    ],
)
def test_cigarette_floor_follows_the_two_stage_operating_point(
    config: SmokingConfig, counted: list[float]
) -> None:
    rule = SmokingRule(config, Scene(ZonesConfig(no_smoking=[NO_SMOKING])))
    found = []
    for conf in (0.15, 0.25, 0.35):
        obs = _observation(PERSON_IN, None)
        dets = Detections.from_lists(
            [list(PERSON_IN), [140, 120, 152, 126]], [0.9, conf], ["person", "cigarette"]
        )
        found += [c.details["cigarette_confidence"] for c in rule.evaluate(replace(obs, detections=dets))]
    assert found == pytest.approx(counted)


def test_no_zone_no_candidates() -> None:
    rule = SmokingRule(SmokingConfig(), Scene(ZonesConfig()))
    assert rule.evaluate(_observation(PERSON_IN, (140, 120, 152, 126))) == []
