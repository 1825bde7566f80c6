"""The pipeline's two-stage smoking step: cigarette boxes for the people who stand in a `no_smoking` zone.

Between tracking and the rules, on every `every_n_frames`-th analysed frame, `SmokingCropper` runs the
cigarette model on the upper-body crops of the tracked people whose foot point is inside `no_smoking` (and
who are at least `min_person_height_px` tall). Its boxes join the frame's detections as class `cigarette`,
so the smoking rule needs no change. Between runs each person keeps the last verdict: their cigarette boxes
follow their box (shifted by its movement), and a person who left the zone or was lost drops them.
"""

from __future__ import annotations

import numpy as np

from vision.crops import SmokingCropper, crop_regions
from vision.detections import Detections
from vision.detectors.base import Detector
from vision.rules.smoking import TwoStageSmokingConfig
from vision.scene import Scene


def load_cigarette_detector(
    config: TwoStageSmokingConfig, *, providers: list[str] | None = None, threads: int | None = None
) -> Detector:
    """The cigarette model as `config` runs it: its model and threshold, one view or flip TTA."""
    from vision.detectors import load_detector, load_flip_tta

    load = load_flip_tta if config.flip_tta else load_detector
    return load(config.model, path=config.model_path, conf=config.conf, providers=providers, threads=threads)


class SmokingStage:
    def __init__(
        self, detector: Detector, config: TwoStageSmokingConfig, scene: Scene, person_class: str = "person"
    ) -> None:
        self.config = config
        self.cropper = SmokingCropper(detector, config)
        self.scene = scene
        self.person_class = person_class
        self.runs = 0  # frames the cigarette model ran on
        self.crops = 0  # crops it ran on (one model run each)
        self._held = Detections.empty()  # last run's cigarettes, with data["person_track_id"]
        self._held_boxes: dict[int, np.ndarray] = {}  # each owner's box at that run

    def add_cigarettes(self, analysed_index: int, image: np.ndarray, detections: Detections) -> Detections:
        """`detections` plus the cigarette boxes of this frame (found now, or held from the last run)."""
        is_person = np.asarray(detections.class_name == self.person_class, dtype=bool)
        tracked = (
            detections.tracker_id >= 0 if detections.tracker_id is not None else np.zeros_like(is_person)
        )
        people = detections[is_person & tracked]
        people_ids = people.tracker_id if people.tracker_id is not None else np.zeros(0, np.int64)
        eligible = self.scene.inside("no_smoking", people.foot_points) if len(people) else np.zeros(0, bool)
        if self.cropper.due(analysed_index):
            self.runs += 1
            self.crops += _count_crops(people, eligible, image.shape, self.config)
            found = self.cropper.detect(image, people, eligible)
            self._held = found
            self._held_boxes = {int(t): people.xyxy[i].astype(np.float32) for i, t in enumerate(people_ids)}
            cigarettes = found
        else:
            cigarettes = self._follow(people, eligible)
        if not len(cigarettes):
            return detections
        cigarettes = Detections(
            xyxy=cigarettes.xyxy.astype(np.float32),
            confidence=cigarettes.confidence.astype(np.float32),
            class_id=cigarettes.class_id,
            class_name=cigarettes.class_name,
            tracker_id=np.full(len(cigarettes), -1, dtype=np.int64),  # untracked, like other objects
        )
        if detections.tracker_id is None:
            detections = detections.with_tracker_ids(np.full(len(detections), -1, dtype=np.int64))
        return Detections.merge([detections, cigarettes])

    def _follow(self, people: Detections, eligible: np.ndarray) -> Detections:
        """The last run's cigarettes of people still tracked and in the zone, moved with their box."""
        held = self._held
        if not len(held) or "person_track_id" not in held.data or people.tracker_id is None:
            return Detections.empty()
        now = {int(t): people.xyxy[i] for i, t in enumerate(people.tracker_id) if eligible[i]}
        keep, shifts = [], []
        for row, track_id in enumerate(held.data["person_track_id"]):
            track_id = int(track_id)
            if track_id not in now or track_id not in self._held_boxes:
                continue
            before, after = self._held_boxes[track_id], now[track_id]
            keep.append(row)
            shift = ((after[0] + after[2]) - (before[0] + before[2])) / 2, (after[1] - before[1])
            shifts.append(shift)
        if not keep:
            return Detections.empty()
        kept = held[np.array(keep)]
        delta = np.array(shifts, dtype=np.float32)
        xyxy = kept.xyxy + np.concatenate([delta, delta], axis=1)
        return Detections(
            xyxy=xyxy, confidence=kept.confidence, class_id=kept.class_id, class_name=kept.class_name
        )


def _count_crops(
    people: Detections, eligible: np.ndarray, shape: tuple[int, ...], config: TwoStageSmokingConfig
) -> int:
    if not len(people):
        return 0
    return len(crop_regions(people, shape[1], shape[0], config, eligible))
