"""Adapter over a well-kept ByteTrack implementation → tracker ids on `Detections` and `Track` histories.

(The tracker adapter itself is added by the camera-pipeline work; `Track` is the value rules consume.)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


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
