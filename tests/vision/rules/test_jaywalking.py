"""Jaywalking on scripted tracks: a road across the picture with one crosswalk band."""

from __future__ import annotations

import pytest

from tests.helpers import make_frame, make_track
from vision.rules.base import Observation
from vision.rules.jaywalking import JaywalkingRule
from vision.scene import JaywalkingConfig, Scene, ZonesConfig

# Road: horizontal band y 200..400 across a 640-wide frame. Crosswalk: x 280..360 across the road.
ROAD = [[0, 200], [640, 200], [640, 400], [0, 400]]
CROSSWALK = [[280, 200], [360, 200], [360, 400], [280, 400]]
FPS = 5.0


def _rule(road: bool = True, crosswalk: bool = True) -> JaywalkingRule:
    zones = ZonesConfig(road=[ROAD] if road else [], crosswalk=[CROSSWALK] if crosswalk else [])
    return JaywalkingRule(JaywalkingConfig(min_seconds_on_road=1.0, motion_window_s=2.0), Scene(zones))


def _walk(start: tuple[float, float], end: tuple[float, float], frames: int) -> list[tuple[float, float]]:
    return [
        (start[0] + (end[0] - start[0]) * i / (frames - 1), start[1] + (end[1] - start[1]) * i / (frames - 1))
        for i in range(frames)
    ]


def _evaluate(rule: JaywalkingRule, feet: list[tuple[float, float]], signal_red: bool | None = None):
    """Feed the track frame by frame (as the pipeline does) and return candidates per frame."""
    per_frame = []
    for n in range(1, len(feet) + 1):
        track = make_track(7, feet[:n], fps=FPS)
        obs = Observation(
            frame=make_frame(n - 1, fps=FPS), detections=None, tracks={7: track}, signal_red=signal_red
        )  # type: ignore[arg-type]
        per_frame.append(rule.evaluate(obs))
    return per_frame


def test_crossing_the_road_outside_the_crosswalk_is_flagged() -> None:
    feet = _walk((100, 190), (100, 410), 25)  # north to south across the road at x=100, 5 s
    per_frame = _evaluate(_rule(), feet)
    flagged = [i for i, c in enumerate(per_frame) if c]
    assert len(flagged) >= 8
    first = per_frame[flagged[0]][0]
    assert first.violation_type == "jaywalking" and first.track_id == 7
    assert first.details["reason"] == "off_crosswalk"
    assert first.details["seconds_on_road"] >= 1.0
    # nothing is flagged before one second on the road has passed, nor after leaving it
    assert all(200 <= feet[i][1] <= 400 for i in flagged)


def test_crossing_inside_the_crosswalk_is_not_flagged() -> None:
    feet = _walk((320, 190), (320, 410), 25)
    per_frame = _evaluate(_rule(), feet)
    assert len(per_frame) == 25
    assert sum(len(c) for c in per_frame) == 0


def test_standing_at_the_kerb_is_not_flagged() -> None:
    # on the road edge for 5 s, swaying a few pixels: on the road long enough, but not walking
    feet = [(100 + (i % 3), 205 + (i % 2)) for i in range(25)]
    per_frame = _evaluate(_rule(), feet)
    assert len(per_frame) == 25
    assert sum(len(c) for c in per_frame) == 0


def test_a_short_step_onto_the_road_is_not_flagged() -> None:
    # 0.8 s on the road, then back to the pavement: shorter than min_seconds_on_road
    feet = (
        _walk((100, 150), (100, 198), 10)
        + _walk((100, 202), (130, 210), 4)
        + _walk((130, 190), (200, 150), 10)
    )
    per_frame = _evaluate(_rule(), feet)
    assert sum(len(c) for c in per_frame) == 0


@pytest.mark.parametrize(
    ("signal_red", "expected_flagged_frames"),
    [(True, 25), (False, 0), (None, 0)],
)
def test_crosswalk_on_red_vs_green(signal_red: bool | None, expected_flagged_frames: int) -> None:
    feet = _walk((320, 210), (320, 390), 25)  # entirely inside the crosswalk, on the road
    per_frame = _evaluate(_rule(), feet, signal_red=signal_red)
    flagged = [c for c in per_frame if c]
    assert len(flagged) == expected_flagged_frames
    if flagged:
        assert flagged[0][0].details["reason"] == "crosswalk_on_red"
        assert flagged[0][0].zones == ("road", "crosswalk")


def test_no_road_zone_means_no_jaywalking() -> None:
    feet = _walk((100, 190), (100, 410), 25)
    assert sum(len(c) for c in _evaluate(_rule(road=False), feet)) == 0


def test_tracks_not_seen_in_this_frame_are_skipped() -> None:
    feet = _walk((100, 190), (100, 410), 25)
    track = make_track(3, feet, fps=FPS)  # last point is frame 24
    obs = Observation(frame=make_frame(30, fps=FPS), detections=None, tracks={3: track})  # type: ignore[arg-type]
    assert _rule().evaluate(obs) == []
    obs_now = Observation(
        frame=make_frame(24, fps=FPS),
        detections=None,
        tracks={3: make_track(3, _walk((100, 250), (100, 390), 15), fps=FPS, start_index=10)},
    )  # type: ignore[arg-type]
    assert len(_rule().evaluate(obs_now)) == 1
