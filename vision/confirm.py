"""Temporal confirmation: per-frame candidates → exactly one incident per person per violation.

- Voting: a (violation type, track) is confirmed when at least N of the last M analysed frames had a
  candidate for it with detector confidence ≥ `min_confidence`.
- One incident per track per violation type: once confirmed, that track never confirms that type again.
- Cooldown: a new track that appeared after a recent incident's track was last seen (within `cooldown_s`),
  and first appeared where that person was lost (box IoU ≥ `overlap_iou`) or where they would have walked at
  their last speed (foot point within (0.5 + `refound_speed_heights_per_s` × gap) body heights of the
  prediction), is the same person re-found under a new track id: its incident is suppressed. Two tracks seen
  at the same time are never merged.
- Incident id: derived from what was seen (camera, type, onset on the stream clock rounded to
  `ONSET_ROUNDING_S`, coarse offender box), so a restarted pipeline on the same footage gives the same ids
  whatever track ids the tracker hands out.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from vision.detections import box_iou
from vision.rules.base import Candidate
from vision.scene import ConfirmConfig

ONSET_ROUNDING_S = 2.0
BOX_GRID_PX = 32


@dataclass(frozen=True)
class Vote:
    frame_index: int
    timestamp: datetime
    xyxy: tuple[float, float, float, float]
    detector_confidence: float
    score: float


@dataclass(frozen=True)
class Incident:
    """One confirmed violation, before its evidence is built."""

    incident_id: str
    camera_id: str
    violation_type: str
    track_id: int
    onset: datetime
    confirmed_at: datetime
    confirmed_frame_index: int
    votes: tuple[Vote, ...]  # the voting frames, oldest first
    zones: tuple[str, ...]
    confidence: float
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def best_vote(self) -> Vote:
        """The voting frame whose offender box the detector was surest of (used for the snapshot)."""
        return max(self.votes, key=lambda v: (v.detector_confidence, v.frame_index))


def incident_id_for(
    camera_id: str, violation_type: str, onset: datetime, xyxy: Iterable[float], ordinal: int = 0
) -> str:
    """sha256 of what was seen → first 24 hex chars. Same footage ⇒ same id, across restarts.

    `ordinal` separates two incidents that would otherwise share an id (two people walking side by side
    whose coarse boxes fall in the same cells within the same rounded second): the n-th such incident of a
    run gets ordinal n, which is again deterministic for the same footage.
    """
    rounded = int(onset.timestamp() // ONSET_ROUNDING_S)
    cells = ",".join(str(int(float(v) // BOX_GRID_PX)) for v in xyxy)
    key = f"{camera_id}|{violation_type}|{rounded}|{cells}"
    if ordinal:
        key += f"|{ordinal}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass
class _Recent:
    track_id: int
    last_xyxy: tuple[float, float, float, float]
    last_seen: datetime
    velocity: tuple[float, float] = (0.0, 0.0)  # foot point, pixels per second
    incident_id: str = ""

    def move_to(self, xyxy: tuple[float, ...], timestamp: datetime) -> None:
        dt = (timestamp - self.last_seen).total_seconds()
        if dt > 0:
            (ox, oy), (nx, ny) = _foot(self.last_xyxy), _foot(xyxy)
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            self.velocity = (0.5 * self.velocity[0] + 0.5 * vx, 0.5 * self.velocity[1] + 0.5 * vy)
        self.last_xyxy = tuple(float(v) for v in xyxy)  # type: ignore[assignment]
        self.last_seen = timestamp


def _foot(xyxy: tuple[float, ...]) -> tuple[float, float]:
    return ((xyxy[0] + xyxy[2]) / 2, xyxy[3])


class Confirmer:
    """Stateful for one camera. Call `update` once per analysed frame, with every rule's candidates."""

    def __init__(self, camera_id: str, configs: Mapping[str, ConfirmConfig]) -> None:
        self.camera_id = camera_id
        self.configs = dict(configs)
        self._windows: dict[tuple[str, int], deque[Vote | None]] = {}
        self._confirmed: set[tuple[str, int]] = set()
        self._recent: dict[str, list[_Recent]] = {}
        self.suppressed = 0
        self.suppressions: list[
            tuple[str, int, int]
        ] = []  # (incident id kept, its track then, re-found track)
        self._issued: set[str] = set()
        self.frame_size: tuple[int, int] | None = None  # (width, height); set by the pipeline
        self._first_seen: dict[int, tuple[datetime, tuple[float, float, float, float]]] = {}
        self._last_seen: dict[int, datetime] = {}

    def update(
        self,
        frame_index: int,
        timestamp: datetime,
        candidates: Iterable[Candidate],
        live_boxes: Mapping[int, tuple[float, float, float, float]] | None = None,
    ) -> list[Incident]:
        """Record this frame's candidates; return the incidents confirmed by this frame.

        `live_boxes` (track id → box in this frame) keeps recent incidents' last boxes current, so a
        track lost later is compared with where it was last seen.
        """
        live_boxes = live_boxes or {}
        self._remember_tracks(timestamp, live_boxes)
        self._refresh_recent(timestamp, live_boxes)
        this_frame: dict[tuple[str, int], Candidate] = {}
        for c in candidates:
            key = (c.violation_type, c.track_id)
            if key in self._confirmed:
                continue
            best = this_frame.get(key)
            if best is None or c.score > best.score:
                this_frame[key] = c
        for key in this_frame:
            if key not in self._windows:
                self._windows[key] = deque(maxlen=self._config(key[0]).window)
        confirmed: list[Incident] = []
        for key, window in list(self._windows.items()):
            cfg = self._config(key[0])
            c = this_frame.get(key)
            if c is not None and c.detector_confidence >= cfg.min_confidence:
                window.append(Vote(frame_index, timestamp, c.xyxy, c.detector_confidence, c.score))
            else:
                window.append(None)
            votes = [v for v in window if v is not None]
            if not votes:
                del self._windows[key]
                continue
            if len(votes) >= cfg.votes and c is not None:
                del self._windows[key]
                self._confirmed.add(key)
                incident = self._incident(key, votes, c, frame_index, timestamp, cfg)
                if incident is not None:
                    confirmed.append(incident)
        return confirmed

    def _config(self, violation_type: str) -> ConfirmConfig:
        return self.configs.get(violation_type) or ConfirmConfig()

    def _remember_tracks(self, timestamp: datetime, live_boxes: Mapping[int, tuple[float, ...]]) -> None:
        for tid, box in live_boxes.items():
            self._first_seen.setdefault(tid, (timestamp, tuple(box)))  # type: ignore[arg-type]
            self._last_seen[tid] = timestamp
        horizon = max((c.cooldown_s for c in self.configs.values()), default=10.0) + 60.0
        for tid in [t for t, seen in self._last_seen.items() if (timestamp - seen).total_seconds() > horizon]:
            self._first_seen.pop(tid, None)
            self._last_seen.pop(tid, None)

    def _is_refound(self, recent: _Recent, track_id: int, votes: list[Vote], cfg: ConfirmConfig) -> bool:
        """Is this new track the recent incident's person, lost and found again under a new id?"""
        first_ts, first_box = self._first_seen.get(track_id, (votes[0].timestamp, votes[0].xyxy))
        gap = (first_ts - recent.last_seen).total_seconds()
        if gap <= 0:
            return False  # both were visible at the same time: two people
        if gap > 1.0 and self._at_border(recent.last_xyxy):
            return False  # they walked out of the picture: whoever comes in there later is someone else
        if box_iou(np.array([first_box]), np.array([recent.last_xyxy]))[0, 0] >= cfg.overlap_iou:
            return True  # reappeared where they were lost
        # reappeared where they would have walked to at their last speed, give or take
        (ox, oy), (nx, ny) = _foot(recent.last_xyxy), _foot(first_box)
        px, py = ox + recent.velocity[0] * gap, oy + recent.velocity[1] * gap
        height = max(float(recent.last_xyxy[3] - recent.last_xyxy[1]), 1.0)
        return float(np.hypot(nx - px, ny - py)) <= height * (0.5 + cfg.refound_speed_heights_per_s * gap)

    def _at_border(self, xyxy: tuple[float, ...]) -> bool:
        if self.frame_size is None:
            return False
        w, h = self.frame_size
        margin = 0.01 * max(w, h)
        return xyxy[0] <= margin or xyxy[1] <= margin or xyxy[2] >= w - margin or xyxy[3] >= h - margin

    def _refresh_recent(self, timestamp: datetime, live_boxes: Mapping[int, tuple[float, ...]]) -> None:
        for vtype, recents in self._recent.items():
            cooldown = self._config(vtype).cooldown_s
            kept = []
            for r in recents:
                if r.track_id in live_boxes:
                    r.move_to(live_boxes[r.track_id], timestamp)
                if (timestamp - r.last_seen).total_seconds() <= cooldown:
                    kept.append(r)
            self._recent[vtype] = kept

    def _incident(
        self,
        key: tuple[str, int],
        votes: list[Vote],
        candidate: Candidate,
        frame_index: int,
        timestamp: datetime,
        cfg: ConfirmConfig,
    ) -> Incident | None:
        vtype, track_id = key
        recents = self._recent.setdefault(vtype, [])
        for r in recents:
            if self._is_refound(r, track_id, votes, cfg):
                self.suppressed += 1
                self.suppressions.append((r.incident_id, r.track_id, track_id))
                r.track_id = track_id  # follow the new id
                r.move_to(votes[-1].xyxy, timestamp)
                return None
        recent = _Recent(track_id, votes[0].xyxy, votes[0].timestamp)
        recent.move_to(votes[-1].xyxy, votes[-1].timestamp)
        recents.append(recent)
        onset = votes[0].timestamp
        confidence = float(np.mean([v.detector_confidence * v.score for v in votes]))
        ordinal = 0
        incident_id = incident_id_for(self.camera_id, vtype, onset, votes[0].xyxy)
        while incident_id in self._issued:
            ordinal += 1
            incident_id = incident_id_for(self.camera_id, vtype, onset, votes[0].xyxy, ordinal)
        self._issued.add(incident_id)
        recent.incident_id = incident_id
        return Incident(
            incident_id=incident_id,
            camera_id=self.camera_id,
            violation_type=vtype,
            track_id=track_id,
            onset=onset,
            confirmed_at=timestamp,
            confirmed_frame_index=frame_index,
            votes=tuple(votes),
            zones=candidate.zones,
            confidence=min(1.0, max(0.0, confidence)),
            details=dict(candidate.details),
        )
