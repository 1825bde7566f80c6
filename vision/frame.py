"""The unit that flows from a source into the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture from one camera.

    `timestamp` is wall-clock (UTC, timezone-aware). For file sources it is derived from the file's fps
    and a configurable start time, so re-running the same file yields the same timestamps.
    """

    camera_id: str
    index: int
    timestamp: datetime
    image: np.ndarray = field(repr=False)  # BGR uint8, H×W×3

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
