"""The one interface every violation rule implements.

A rule looks at one analysed frame (`Observation`) and answers which tracks look like they are violating
*in this frame* (`Candidate`s with a score). Turning per-frame candidates into one incident per person is
`vision/confirm.py`'s job, not the rule's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from vision.detections import Detections
from vision.frame import Frame
from vision.tracking import Track


@dataclass(frozen=True)
class Observation:
    """What the rules see for one analysed frame."""

    frame: Frame
    detections: Detections  # every detection of this frame; tracked ones carry tracker_id
    tracks: Mapping[int, Track]  # live person tracks with their history, by track id
    signal_red: bool | None = None  # pedestrian signal phase if the camera has one, else None


@dataclass(frozen=True)
class Candidate:
    """One track that looks like it is violating in this frame."""

    violation_type: str
    track_id: int
    score: float  # 0..1, the rule's strength of evidence in this frame
    xyxy: tuple[float, float, float, float]  # offender box in frame pixels
    detector_confidence: float
    zones: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)  # rule-specific (e.g. the litter object)


class Rule(ABC):
    """A violation rule. Stateful rules keep their state between `evaluate` calls for one camera."""

    violation_type: ClassVar[str]

    @abstractmethod
    def evaluate(self, observation: Observation) -> list[Candidate]:
        """Candidates for this frame (empty when nothing looks wrong)."""
