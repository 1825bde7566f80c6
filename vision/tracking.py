"""Adapter over a well-kept ByteTrack implementation → tracker ids on `Detections` and `Track` histories.

`Tracker` wraps Roboflow `trackers`' ByteTrack (supervision 0.31 no longer ships `sv.ByteTrack`); `Track` is
the value rules consume: one person's recent boxes, foot point = bottom-centre.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from vision.detections import Detections


@dataclass(frozen=True, slots=True)
class TrackPoint:
    frame_index: int
    timestamp: datetime
    xyxy: tuple[float, float, float, float]
    confidence: float

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom-centre of the box: where the person stands."""
        return ((self.xyxy[0] + self.xyxy[2]) / 2, self.xyxy[3])


@dataclass
class Track:
    """One tracked object and its recent history (newest last)."""

    track_id: int
    class_name: str
    history: deque[TrackPoint] = field(default_factory=lambda: deque(maxlen=300))

    @property
    def last(self) -> TrackPoint:
        return self.history[-1]

    @property
    def foot_points(self) -> np.ndarray:
        return np.array([p.foot for p in self.history], dtype=np.float32).reshape(-1, 2)


@dataclass
class TrackerSettings:
    """What the adapter needs from the camera config (kept here so tracking does not import scene)."""

    fps: float = 5.0
    lost_track_s: float = 2.0
    activation_confidence: float = 0.4
    high_confidence: float = 0.5
    min_iou: float = 0.1
    history_s: float = 30.0
    person_class: str = "person"


class Tracker:
    """ByteTrack (Roboflow `trackers`) over the person detections of one camera.

    `update` returns the frame's detections with `tracker_id` filled (-1 for untracked rows, e.g. other
    classes or boxes ByteTrack has not confirmed yet) and the live tracks with their history. A track not
    seen for longer than `lost_track_s` is dropped; ByteTrack may re-find it under the same id before that.
    """

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        from trackers import ByteTrackTracker

        self.settings = s = settings or TrackerSettings()
        # trackers counts its lost buffer in 30-fps frames and scales by frame_rate.
        self._bytetrack = ByteTrackTracker(
            lost_track_buffer=max(1, round(s.lost_track_s * 30)),
            frame_rate=s.fps,
            track_activation_threshold=s.activation_confidence,
            minimum_consecutive_frames=2,
            minimum_iou_threshold=s.min_iou,
            high_conf_det_threshold=s.high_confidence,
        )
        self._history_len = max(2, round(s.history_s * s.fps))
        self.tracks: dict[int, Track] = {}

    def update(
        self, frame_index: int, timestamp: datetime, detections: Detections
    ) -> tuple[Detections, dict[int, Track]]:
        import supervision as sv

        person_rows = np.flatnonzero(detections.class_name == self.settings.person_class)
        tracker_id = np.full(len(detections), -1, dtype=np.int64)
        people = detections[person_rows]
        sv_dets = sv.Detections(
            xyxy=people.xyxy.astype(np.float32).reshape(-1, 4),
            confidence=people.confidence.astype(np.float32),
            class_id=np.zeros(len(people), dtype=int),
            data={"row": person_rows},
        )
        tracked = self._bytetrack.update(sv_dets)
        if len(tracked):
            rows = np.asarray(tracked.data["row"], dtype=np.int64)
            tracker_id[rows] = np.asarray(tracked.tracker_id, dtype=np.int64)
        for row in np.flatnonzero(tracker_id >= 0):
            tid = int(tracker_id[row])
            track = self.tracks.get(tid)
            if track is None:
                track = Track(tid, self.settings.person_class, deque(maxlen=self._history_len))
                self.tracks[tid] = track
            box = detections.xyxy[row]
            track.history.append(
                TrackPoint(
                    frame_index,
                    timestamp,
                    (float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                    float(detections.confidence[row]),
                )
            )
        for tid in [
            t
            for t, tr in self.tracks.items()
            if (timestamp - tr.last.timestamp).total_seconds() > self.settings.lost_track_s
        ]:
            del self.tracks[tid]
        return detections.with_tracker_ids(tracker_id), dict(self.tracks)
