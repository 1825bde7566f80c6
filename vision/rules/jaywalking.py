"""Jaywalking: a person walking on the road outside every crosswalk, or inside a crosswalk on red.

Per frame, for each person track seen in this frame:
- *off-crosswalk*: the foot point has stayed inside `road` and outside every `crosswalk` for at least
  `min_seconds_on_road`, and the person is walking (foot displacement over `motion_window_s` of at least
  `min_displacement_heights` body heights), so someone standing at the kerb is not flagged;
- *crosswalk on red*: the foot point is inside a crosswalk while the pedestrian signal is red.
The rule only reads zones and track histories; it keeps no state of its own, so a lost-and-refound track
is judged on its own history and `confirm.py` decides whether it is the same incident.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from vision.rules.base import Candidate, Observation, Rule
from vision.scene import JaywalkingConfig, Scene
from vision.tracking import Track


class JaywalkingRule(Rule):
    violation_type: ClassVar[str] = "jaywalking"

    def __init__(self, config: JaywalkingConfig, scene: Scene) -> None:
        self.config = config
        self.scene = scene

    def evaluate(self, observation: Observation) -> list[Candidate]:
        if not self.scene.has("road"):
            return []
        candidates = []
        for track in observation.tracks.values():
            if track.last.frame_index != observation.frame.index:
                continue  # not seen in this frame
            candidate = self._judge(track, observation.signal_red)
            if candidate is not None:
                candidates.append(candidate)
        return candidates

    def _judge(self, track: Track, signal_red: bool | None) -> Candidate | None:
        feet = track.foot_points
        on_road = self.scene.inside("road", feet)
        on_crosswalk = self.scene.inside("crosswalk", feet)
        last = track.last
        if on_crosswalk[-1] and on_road[-1] and signal_red:
            return self._candidate(track, "crosswalk_on_red", 1.0, crosswalk=True)
        if not on_road[-1] or on_crosswalk[-1]:
            return None
        outside = on_road & ~on_crosswalk
        start = len(outside) - 1
        while start > 0 and outside[start - 1]:
            start -= 1
        seconds = (last.timestamp - track.history[start].timestamp).total_seconds()
        if seconds < self.config.min_seconds_on_road:
            return None
        moved = self._displacement_heights(track)
        if moved is None or moved < self.config.min_displacement_heights:
            return None
        return self._candidate(track, "off_crosswalk", 1.0, seconds_on_road=seconds, moved_heights=moved)

    def _displacement_heights(self, track: Track) -> float | None:
        """Foot displacement over the motion window, in mean body heights; None if history is too short."""
        now = track.last.timestamp
        then = None
        for point in reversed(track.history):
            if (now - point.timestamp).total_seconds() >= self.config.motion_window_s:
                then = point
                break
        if then is None:
            return None
        heights = [p.xyxy[3] - p.xyxy[1] for p in (then, track.last)]
        height = max(float(np.mean(heights)), 1.0)
        dx = track.last.foot[0] - then.foot[0]
        dy = track.last.foot[1] - then.foot[1]
        return float(np.hypot(dx, dy)) / height

    def _candidate(
        self, track: Track, reason: str, score: float, *, crosswalk: bool = False, **details
    ) -> Candidate:
        last = track.last
        zones = ("road", "crosswalk") if crosswalk else ("road",)
        return Candidate(
            violation_type=self.violation_type,
            track_id=track.track_id,
            score=score,
            xyxy=last.xyxy,
            detector_confidence=last.confidence,
            zones=zones,
            details={"reason": reason, **details},
        )
