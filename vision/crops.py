"""Two-stage smoking: the cigarette model runs on an enlarged upper-body crop of each person, not the frame.

A street camera sees a cigarette at a few pixels; the cigarette model was trained on close photos (median box
~80 px at 640). So for each person inside a `no_smoking` zone (the caller decides who is inside), the head and
hands region is cut out, the detector's letterbox enlarges it to the model input, and the boxes it finds are
mapped back to frame pixels. Enlarging adds no pixels: people shorter than `min_person_height_px` are never
judged. The cost is one model run per crop, so it runs every `every_n_frames` frames and on at most
`max_people_per_frame` people (tallest first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vision.detections import Detections
from vision.detectors.base import Detector
from vision.detectors.nms import nms


class SmokingCropConfig(BaseModel):
    """Where to crop and how often; per camera."""

    model_config = ConfigDict(extra="forbid")

    min_person_height_px: int = Field(
        100,
        ge=16,
        le=4000,
        description="People shorter than this (frame pixels) are never judged for smoking: a cigarette "
        "on them is too few pixels to see. Measured (docs/models.md): smokers found 0.44 at 100 px, 0.32 at "
        "75 px, 0.04 at 50 px, against 0.56-0.63 at 200-400 px.",
    )
    top_margin: float = Field(
        0.05, ge=0.0, le=0.5, description="Extra space above the head, as a fraction of the person's height."
    )
    upper_fraction: float = Field(
        0.6,
        gt=0.1,
        le=1.0,
        description="How much of the person's height (from the top of the box) the crop covers: head, "
        "shoulders and hands at waist height.",
    )
    side_margin: float = Field(
        0.25, ge=0.0, le=2.0, description="Extra space left and right, as a fraction of the person's width."
    )
    every_n_frames: int = Field(
        5, ge=1, le=1000, description="Run the cigarette model on frames whose index is a multiple of this."
    )
    max_people_per_frame: int = Field(
        8, ge=1, le=100, description="At most this many crops per frame (tallest people first)."
    )
    nms_iou: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="Boxes from overlapping crops above this IoU are merged (highest kept).",
    )


@dataclass(frozen=True, slots=True)
class CropRegion:
    """An integer pixel rectangle of the frame, [x1, x2) × [y1, y2), cut out for one person."""

    x1: int
    y1: int
    x2: int
    y2: int
    person_index: int  # row of the person in the frame's Detections

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    def cut(self, image: np.ndarray) -> np.ndarray:
        return image[self.y1 : self.y2, self.x1 : self.x2]

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) boxes in crop pixels → frame pixels (a shift: the crop is the frame's own pixels)."""
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
        boxes[:, [0, 2]] += self.x1
        boxes[:, [1, 3]] += self.y1
        return boxes


def upper_body_region(
    person_xyxy: Sequence[float],
    frame_width: int,
    frame_height: int,
    config: SmokingCropConfig,
    index: int = 0,
) -> CropRegion | None:
    """The head-and-hands rectangle of one person box, clipped to the frame; None if too small to judge."""
    x1, y1, x2, y2 = (float(v) for v in person_xyxy)
    height, width = y2 - y1, x2 - x1
    if height < config.min_person_height_px or width <= 0:
        return None
    left = int(np.floor(x1 - config.side_margin * width))
    right = int(np.ceil(x2 + config.side_margin * width))
    top = int(np.floor(y1 - config.top_margin * height))
    bottom = int(np.ceil(y1 + config.upper_fraction * height))
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, frame_width), min(bottom, frame_height)
    if right - left < 2 or bottom - top < 2:
        return None
    return CropRegion(left, top, right, bottom, index)


def crop_regions(
    people: Detections, frame_width: int, frame_height: int, config: SmokingCropConfig, eligible: np.ndarray
) -> list[CropRegion]:
    """Crops for the eligible people (e.g. inside a `no_smoking` zone), tallest first, at most the cap."""
    eligible = np.asarray(eligible, dtype=bool).reshape(-1)
    if len(eligible) != len(people):
        raise ValueError(f"eligible has {len(eligible)} rows, people has {len(people)}")
    heights = people.xyxy[:, 3] - people.xyxy[:, 1]
    order = [int(i) for i in np.argsort(-heights, kind="stable") if eligible[i]]
    regions = []
    for i in order:
        region = upper_body_region(people.xyxy[i], frame_width, frame_height, config, index=i)
        if region is not None:
            regions.append(region)
        if len(regions) == config.max_people_per_frame:
            break
    return regions


class SmokingCropper:
    """Runs the cigarette detector on upper-body crops and returns its boxes in frame pixels.

    Output rows carry `data["person_index"]` (the person's row in the input) and, when the people are
    tracked, `data["person_track_id"]`, so the smoking rule can tie a cigarette to its smoker.
    """

    def __init__(self, detector: Detector, config: SmokingCropConfig | None = None) -> None:
        self.detector = detector
        self.config = config or SmokingCropConfig()

    def due(self, frame_index: int) -> bool:
        return frame_index % self.config.every_n_frames == 0

    def detect(self, image: np.ndarray, people: Detections, eligible: np.ndarray) -> Detections:
        """Cigarette boxes (frame pixels) found on the eligible people's crops of `image`."""
        height, width = image.shape[:2]
        regions = crop_regions(people, width, height, self.config, eligible)
        if not regions:
            return _with_person_columns(Detections.empty(), np.zeros(0, np.int64), None)
        crops = [np.ascontiguousarray(region.cut(image)) for region in regions]
        parts: list[Detections] = []
        owners: list[np.ndarray] = []
        for region, found in zip(regions, self.detector.detect_batch(crops), strict=True):
            if not len(found):
                continue
            parts.append(
                Detections(
                    xyxy=region.to_frame(found.xyxy),
                    confidence=found.confidence,
                    class_id=found.class_id,
                    class_name=found.class_name,
                )
            )
            owners.append(np.full(len(found), region.person_index, dtype=np.int64))
        if not parts:
            return _with_person_columns(Detections.empty(), np.zeros(0, np.int64), None)
        merged = Detections.merge(parts)
        person_index = np.concatenate(owners)
        keep = nms(merged.xyxy, merged.confidence, merged.class_id, self.config.nms_iou)
        merged, person_index = merged[keep], person_index[keep]
        track_ids = None if people.tracker_id is None else people.tracker_id[person_index]
        return _with_person_columns(merged, person_index, track_ids)


def _with_person_columns(
    found: Detections, person_index: np.ndarray, track_ids: np.ndarray | None
) -> Detections:
    data = {"person_index": person_index.astype(np.int64)}
    if track_ids is not None:
        data["person_track_id"] = np.asarray(track_ids, dtype=np.int64)
    return Detections(
        xyxy=found.xyxy,
        confidence=found.confidence,
        class_id=found.class_id,
        class_name=found.class_name,
        data=data,
    )


def detect_around(
    image: np.ndarray, xyxy: Sequence[float], detector: Detector, *, margin: float = 0.5, min_side: int = 32
) -> Detections:
    """Run `detector` on the region around one box (e.g. a littering proposal), boxes back in frame pixels.

    The box is widened by `margin` × its size on every side (context helps the litter model) and to at least
    `min_side` pixels, clipped to the frame.
    """
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = max((x2 - x1) * (0.5 + margin), min_side / 2)
    half_h = max((y2 - y1) * (0.5 + margin), min_side / 2)
    region = CropRegion(
        max(int(np.floor(cx - half_w)), 0),
        max(int(np.floor(cy - half_h)), 0),
        min(int(np.ceil(cx + half_w)), width),
        min(int(np.ceil(cy + half_h)), height),
        0,
    )
    if region.width < 2 or region.height < 2:
        return Detections.empty()
    found = detector.detect(np.ascontiguousarray(region.cut(image)))
    return Detections(
        xyxy=region.to_frame(found.xyxy),
        confidence=found.confidence,
        class_id=found.class_id,
        class_name=found.class_name,
        data=dict(found.data),
    )
