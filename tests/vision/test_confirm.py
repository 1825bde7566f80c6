"""Temporal confirmation: N of M voting, min confidence, one incident per track, lost-and-refound, ids."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import T0
from vision.confirm import Confirmer, incident_id_for
from vision.rules.base import Candidate
from vision.scene import ConfirmConfig

CFG = ConfirmConfig(votes=3, window=5, min_confidence=0.4, cooldown_s=10, overlap_iou=0.2)


def _cand(track_id: int, x: float = 100, conf: float = 0.8) -> Candidate:
    return Candidate("jaywalking", track_id, 1.0, (x, 100, x + 30, 180), conf, ("road",))


def _feed(confirmer: Confirmer, frames: list[list[Candidate]], start: int = 0):
    incidents = []
    for i, cands in enumerate(frames, start=start):
        live = {c.track_id: c.xyxy for c in cands}
        incidents += confirmer.update(i, T0 + timedelta(seconds=i / 5), cands, live)
    return incidents


def test_n_of_m_votes_confirm_once_per_track() -> None:
    c = Confirmer("cam", {"jaywalking": CFG})
    frames = [[_cand(1, 100 + 3 * i)] for i in range(20)]  # violating for 4 s
    incidents = _feed(c, frames)
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc.track_id == 1 and inc.violation_type == "jaywalking"
    assert inc.confirmed_frame_index == 2  # third vote
    assert [v.frame_index for v in inc.votes] == [0, 1, 2]
    assert inc.onset == T0


def test_scattered_votes_below_n_in_any_window_do_not_confirm() -> None:
    c = Confirmer("cam", {"jaywalking": CFG})
    frames = [[_cand(1)] if i % 3 == 0 else [] for i in range(30)]  # at most 2 votes in any 5 frames
    assert _feed(c, frames) == []


def test_low_confidence_votes_do_not_count() -> None:
    c = Confirmer("cam", {"jaywalking": CFG})
    assert _feed(c, [[_cand(1, conf=0.3)] for _ in range(10)]) == []
    c2 = Confirmer("cam", {"jaywalking": CFG})
    assert len(_feed(c2, [[_cand(1, conf=0.5)] for _ in range(10)])) == 1


def test_two_people_give_two_incidents() -> None:
    c = Confirmer("cam", {"jaywalking": CFG})
    frames = [[_cand(1, 100), _cand(2, 400)] for _ in range(6)]
    incidents = _feed(c, frames)
    assert sorted(i.track_id for i in incidents) == [1, 2]
    assert len({i.incident_id for i in incidents}) == 2


def test_lost_and_refound_track_is_one_incident() -> None:
    c = Confirmer("cam", {"jaywalking": CFG})
    first = [[_cand(1, 100 + 2 * i)] for i in range(8)]  # confirmed, then lost at x≈114
    gap = [[] for _ in range(5)]  # 1 s unseen
    again = [[_cand(9, 118 + 2 * i)] for i in range(8)]  # same person, new id, overlapping box
    incidents = _feed(c, first + gap + again)
    assert len(incidents) == 1
    assert c.suppressed == 1


def test_refound_after_cooldown_or_elsewhere_is_a_new_incident() -> None:
    c = Confirmer("cam", {"jaywalking": CFG})
    first = [[_cand(1, 100)] for _ in range(8)]
    gap = [[] for _ in range(60)]  # 12 s > cooldown
    again = [[_cand(9, 100)] for _ in range(8)]
    assert len(_feed(c, first + gap + again)) == 2
    c2 = Confirmer("cam", {"jaywalking": CFG})
    elsewhere = [[_cand(9, 500)] for _ in range(8)]
    assert len(_feed(c2, first + [[]] * 3 + elsewhere)) == 2


def test_incident_ids_come_from_what_was_seen() -> None:
    runs = []
    for first_track_id in (1, 41):  # a restarted tracker hands out other ids
        c = Confirmer("cam", {"jaywalking": CFG})
        runs.append(_feed(c, [[_cand(first_track_id, 100 + i)] for i in range(6)]))
    assert len(runs[0]) == len(runs[1]) == 1
    assert runs[0][0].incident_id == runs[1][0].incident_id
    assert len(runs[0][0].incident_id) == 24
    box = (100, 100, 130, 180)
    assert incident_id_for("cam", "jaywalking", T0, box) != incident_id_for("cam2", "jaywalking", T0, box)
    assert incident_id_for("cam", "jaywalking", T0, box) != incident_id_for("cam", "littering", T0, box)
    assert incident_id_for("cam", "jaywalking", T0, box) != incident_id_for(
        "cam", "jaywalking", T0 + timedelta(seconds=5), box
    )


def test_two_people_side_by_side_are_never_merged() -> None:
    c = Confirmer("cam", {"jaywalking": CFG})
    frames = [[_cand(1, 100)] for _ in range(2)] + [[_cand(1, 100), _cand(2, 125)] for _ in range(6)]
    incidents = _feed(c, frames)
    assert sorted(i.track_id for i in incidents) == [1, 2]
    assert c.suppressed == 0
