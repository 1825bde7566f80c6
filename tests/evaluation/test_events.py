"""Event matcher on scripted cases: TP, FP, FN, wrong type, temporal miss, duplicate, wrong place, ignore."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autofine.errors import UserError
from evaluation.events import GroundTruthEvent, IgnoreSpan, Incident, load_annotation, match_events


def event(t: str, start: float, end: float, box: tuple | None = None, at: float | None = None):
    hint = None if box is None else {"t": at if at is not None else (start + end) / 2, "xyxy": box}
    return GroundTruthEvent(type=t, start=start, end=end, box=hint)


def incident(t: str, start: float, end: float, box: tuple = (100, 100, 140, 200), iid: str = "") -> Incident:
    times = np.linspace(start, end, 5)
    return Incident(t, start, end, times, np.tile(np.asarray(box, float), (5, 1)), incident_id=iid)


def test_true_positive() -> None:
    r = match_events([event("jaywalking", 10, 20)], [incident("jaywalking", 12, 15)])
    assert len(r.matches) == 1 and not r.false_positives and not r.false_negatives
    s = r.scores["jaywalking"]
    assert (s.tp, s.fp, s.fn) == (1, 0, 0) and s.precision == s.recall == s.f1 == 1.0


def test_unmatched_incident_is_fp_and_missed_event_is_fn() -> None:
    r = match_events([event("jaywalking", 10, 20)], [incident("jaywalking", 40, 45)])
    assert [f.reason for f in r.false_positives] == ["no event"]
    assert len(r.false_negatives) == 1
    s = r.scores["jaywalking"]
    assert (s.tp, s.fp, s.fn) == (0, 1, 1) and s.f1 == 0.0


def test_temporal_miss_just_outside_slack() -> None:
    events = [event("littering", 10, 20)]
    assert len(match_events(events, [incident("littering", 20.9, 25)]).matches) == 1  # within 1 s slack
    missed = match_events(events, [incident("littering", 22.1, 25)])  # 2.1 s after: miss
    assert not missed.matches and len(missed.false_negatives) == 1


def test_wrong_type_counts_against_both_types() -> None:
    r = match_events([event("littering", 10, 20)], [incident("smoking", 11, 18)])
    assert r.false_positives[0].reason == "wrong type (event is littering)"
    assert (r.scores["smoking"].fp, r.scores["littering"].fn) == (1, 1)
    assert r.scores["smoking"].tp == r.scores["littering"].tp == 0


def test_second_incident_for_one_event_is_a_duplicate() -> None:
    r = match_events(
        [event("jaywalking", 10, 20)], [incident("jaywalking", 10, 19), incident("jaywalking", 15, 16)]
    )
    assert len(r.matches) == 1 and r.matches[0].incident.end == 19  # the longer overlap wins
    assert [f.reason for f in r.false_positives] == ["duplicate"]
    assert r.scores["jaywalking"].precision == pytest.approx(0.5)


def test_box_hint_separates_two_simultaneous_offenders() -> None:
    events = [
        event("jaywalking", 10, 20, (100, 100, 140, 200)),
        event("jaywalking", 10, 20, (500, 100, 540, 200)),
    ]
    right = incident("jaywalking", 11, 19, box=(505, 105, 545, 205), iid="right")
    r = match_events(events, [right])
    assert len(r.matches) == 1 and r.matches[0].event.box.xyxy[0] == 500
    assert len(r.false_negatives) == 1 and r.false_negatives[0].box.xyxy[0] == 100
    elsewhere = match_events(events[:1], [right])
    assert [f.reason for f in elsewhere.false_positives] == ["wrong place"]
    # an incident with no box within 1 s of the hint's moment is matched on time alone
    late = Incident("jaywalking", 17, 19, np.array([17.0, 19.0]), np.array([[500, 100, 540, 200]] * 2, float))
    assert len(match_events(events[:1], [late]).matches) == 1


def test_ignored_span_neither_rewards_nor_penalises() -> None:
    r = match_events(
        [event("jaywalking", 10, 20)],
        [incident("jaywalking", 11, 12), incident("jaywalking", 60, 62)],
        ignore=[IgnoreSpan(start=58, end=65)],
    )
    assert len(r.matches) == 1 and len(r.ignored) == 1 and not r.false_positives


def test_ignore_span_with_box_only_covers_that_person() -> None:
    hint = {"t": 11.0, "xyxy": (500, 100, 540, 200)}
    r = match_events(
        [event("jaywalking", 10, 20, (100, 100, 140, 200), at=11.5)],
        [
            incident("jaywalking", 11, 12, box=(100, 100, 140, 200)),  # the annotated offender
            incident("jaywalking", 11, 12, box=(505, 100, 545, 200)),  # the undecided person: ignored
            incident("jaywalking", 11, 12, box=(300, 100, 340, 200)),  # someone else: a real FP
        ],
        ignore=[IgnoreSpan(start=10, end=13, box=hint)],
    )
    assert len(r.matches) == 1 and len(r.ignored) == 1
    assert [f.reason for f in r.false_positives] == ["wrong place"]


def test_requested_types_are_reported_even_when_empty() -> None:
    r = match_events([], [], types=["jaywalking", "littering"])
    assert sorted(r.scores) == ["jaywalking", "littering"]
    assert all((s.tp, s.fp, s.fn) == (0, 0, 0) for s in r.scores.values())
    assert r.scores["jaywalking"].precision is None and r.scores["jaywalking"].f1 is None


def test_annotation_file_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clip: x.mp4\nevents:\n  - {type: jaywalking, start: 5, end: 2}\n")
    with pytest.raises(UserError, match="before start"):
        load_annotation(bad, resolve=False)
    bad.write_text("clip: x.mp4\nevnts: []\n")
    with pytest.raises(UserError, match="evnts"):
        load_annotation(bad, resolve=False)


def test_a_box_confirmed_pair_beats_a_time_only_pair() -> None:
    # Two walkers with overlapping spans; each incident's boxes cover only its own walker's hint moment.
    a = event("jaywalking", 1, 16, (628, 252, 666, 351), at=3.0)
    d = event("jaywalking", 4, 13, (585, 207, 622, 309), at=7.0)
    inc_a = Incident(
        "jaywalking", 3.2, 5.8, np.array([2.0, 3.0, 5.8]), np.array([[630, 250, 668, 350]] * 3, float)
    )
    inc_d = Incident(
        "jaywalking", 6.2, 8.8, np.array([4.2, 7.0, 8.8]), np.array([[585, 210, 622, 310]] * 3, float)
    )
    r = match_events([a, d], [inc_d, inc_a])
    pairs = {(m.event.start, m.incident.start) for m in r.matches}
    assert pairs == {(1.0, 3.2), (4.0, 6.2)}
