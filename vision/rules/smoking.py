"""Smoking: a person standing in a `no_smoking` zone with a cigarette at their mouth or in their hand.

Per analysed frame, each cigarette detection (class names from `cigarette_classes`, so any fine-tuned model
plugs in) is attached to the person box whose head or hand region contains its centre, by box geometry:
- head: the top `head_fraction` of the person box, widened by `margin` of the box width;
- hands: the band from `hand_top` to `hand_bottom` of the box height, widened by `hand_reach` of its width.
A person seen in this frame whose foot point is inside `no_smoking` and who holds a cigarette gives one
candidate with score = cigarette confidence (× `hand_weight` when it is only in a hand). The rule keeps no
state: it is honest per frame, and `confirm.py` decides (N of M frames) whether it persisted. Smoking
fines always go to human review (the service's policy), however high the score.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import Field

from vision.crops import SmokingCropConfig
from vision.rules.base import Candidate, Observation, Rule
from vision.scene import RuleConfig, Scene


class TwoStageSmokingConfig(SmokingCropConfig):
    """The cigarette model on enlarged upper-body crops of people in `no_smoking` (vision/crops.py).

    Runs on every `every_n_frames`-th analysed frame; between runs each person keeps the last verdict (their
    cigarette boxes follow their box), so confirmation counts runs: with `every_n_frames` 5, votes 6 of 10
    need two positive runs in a row.
    """

    model: str = Field(
        default="cigarette", min_length=1, max_length=64, description="Registry id of the cigarette model."
    )
    model_path: Path | None = Field(default=None, description="ONNX file to use instead of the registry's.")
    conf: float = Field(
        default=0.25,
        ge=0.01,
        le=1,
        description="Cigarette model score threshold (docs/models.md gives precision and recall there).",
    )
    flip_tta: bool = Field(
        default=True,
        description="Run the cigarette model on each crop and its mirror and fuse the boxes: about 0.04 more "
        "mAP50 on the valid split for twice the model time per crop (docs/models.md).",
    )


class SmokingConfig(RuleConfig):
    cigarette_classes: list[str] = Field(
        default_factory=lambda: ["cigarette", "smoking"],
        description="Detector class names that mean a lit cigarette (or a smoking person's hand/mouth).",
    )
    min_cigarette_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Cigarette detections below this are ignored. None: the two-stage model's `conf` when "
        "`two_stage` is set (the operating point its precision and recall were measured at), else 0.3.",
    )
    head_fraction: float = Field(
        default=0.3, gt=0, le=1, description="Upper share of the person box where the head (mouth) is."
    )
    margin: float = Field(
        default=0.25,
        ge=0,
        le=2,
        description="Head region widened on each side by this share of the box width.",
    )
    hand_top: float = Field(
        default=0.2, ge=0, le=1, description="Hand band starts at this share of box height."
    )
    hand_bottom: float = Field(
        default=0.65, ge=0, le=1, description="Hand band ends at this share of box height."
    )
    hand_reach: float = Field(
        default=0.35, ge=0, le=2, description="Hand band widened on each side by this share of the box width."
    )
    hand_weight: float = Field(
        default=0.8, ge=0, le=1, description="Score factor for a cigarette only in a hand (not at the mouth)."
    )
    two_stage: TwoStageSmokingConfig | None = Field(
        default=None,
        description="Run the cigarette model on upper-body crops of people in `no_smoking` (needed unless "
        "the frame detector itself has a cigarette class). None = off.",
    )

    @property
    def cigarette_floor(self) -> float:
        """The confidence a cigarette box needs to count (see `min_cigarette_confidence`)."""
        if self.min_cigarette_confidence is not None:
            return self.min_cigarette_confidence
        return self.two_stage.conf if self.two_stage is not None else 0.3

    def recorded_thresholds(self) -> dict[str, float]:
        return {**super().recorded_thresholds(), "cigarette_floor": self.cigarette_floor}


class SmokingRule(Rule):
    violation_type: ClassVar[str] = "smoking"

    def __init__(self, config: SmokingConfig, scene: Scene) -> None:
        self.config = config
        self.scene = scene

    def evaluate(self, observation: Observation) -> list[Candidate]:
        if not self.scene.has("no_smoking"):
            return []
        cfg = self.config
        cigarettes = observation.detections.of_classes(cfg.cigarette_classes)
        cigarettes = cigarettes[cigarettes.confidence >= cfg.cigarette_floor]
        if not len(cigarettes):
            return []
        people = [t for t in observation.tracks.values() if t.last.frame_index == observation.frame.index]
        if not people:
            return []
        boxes = np.array([t.last.xyxy for t in people], dtype=np.float64)
        feet = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
        inside = self.scene.inside("no_smoking", feet)
        centres = cigarettes.centers.astype(np.float64)
        candidates = []
        for i, track in enumerate(people):
            if not inside[i]:
                continue
            best_score, best_where, best_box, best_conf = 0.0, "", None, 0.0
            for j, centre in enumerate(centres):
                where = self._where(boxes[i], centre)
                if where is None:
                    continue
                conf = float(cigarettes.confidence[j])
                score = conf if where == "head" else conf * cfg.hand_weight
                if score > best_score:
                    best_score, best_where, best_conf = score, where, conf
                    best_box = tuple(round(float(v), 1) for v in cigarettes.xyxy[j])
            if best_box is None:
                continue
            candidates.append(
                Candidate(
                    violation_type=self.violation_type,
                    track_id=track.track_id,
                    score=best_score,
                    xyxy=track.last.xyxy,
                    detector_confidence=track.last.confidence,
                    zones=("no_smoking",),
                    details={
                        "cigarette_xyxy": best_box,
                        "cigarette_confidence": best_conf,
                        "where": best_where,
                    },
                )
            )
        return candidates

    def _where(self, box: np.ndarray, point: np.ndarray) -> str | None:
        """'head', 'hand' or None: where on this person the point is."""
        cfg = self.config
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        x, y = point
        if (
            x1 - cfg.margin * w <= x <= x2 + cfg.margin * w
            and y1 - 0.1 * h <= y <= y1 + cfg.head_fraction * h
        ):
            return "head"
        in_band = y1 + cfg.hand_top * h <= y <= y1 + cfg.hand_bottom * h
        if in_band and x1 - cfg.hand_reach * w <= x <= x2 + cfg.hand_reach * w:
            return "hand"
        return None
