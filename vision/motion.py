"""Motion gating (as Frigate does): decide per frame whether the detector needs to run, and where.

Motion is measured on a small grey copy of the frame (`frame_height` rows): blur, difference against a
slowly learnt running-average background, threshold, dilate, contours. The detector then runs when

- the background is still warming up (`warmup_frames`), or
- there is motion (or there was some in the last `hold_frames` frames), or
- the tracker holds a live track (a person standing still must keep being seen, or their track ends),

and is skipped otherwise: an empty, still scene has nothing for the rules to judge. When `crop` is on and the
moving regions plus the live tracks' boxes cover a small part of the frame, the detector runs on one crop
around them and the boxes are shifted back to frame pixels.

Masks (polygons in source-frame pixels) hide trees, clocks or a busy road from the motion detector only; the
detector still sees the whole picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vision.detections import Detections
from vision.detectors.base import Detector
from vision.frame import Frame

Point = tuple[float, float]


class MotionConfig(BaseModel):
    """Per camera: whether to gate the detector on motion, and how motion is measured."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description="Skip the detector on frames with no motion and no live track (measured lossless on "
        "vtest and di_bo_1: the same violations with gating on and off; see docs/fast-path.md).",
    )
    frame_height: int = Field(
        default=120, ge=32, le=1080, description="Rows of the grey copy motion is measured on (Frigate: 100)."
    )
    threshold: int = Field(
        default=25, ge=1, le=255, description="Grey difference from the background that is motion."
    )
    min_area_px: float = Field(
        default=8.0,
        ge=0,
        le=100000,
        description="Smallest moving region, in pixels of the small grey copy.",
    )
    learn_alpha: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Background learning rate per analysed frame (slow: a walker is not learnt away).",
    )
    warmup_frames: int = Field(
        default=5, ge=1, le=1000, description="Frames after start during which the detector always runs."
    )
    hold_frames: int = Field(
        default=3, ge=0, le=1000, description="Keep running the detector this many frames after motion stops."
    )
    lighting_change_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="More than this share of the picture moving at once is a lighting change or a camera "
        "move: the background is reset and the frame counts as motion.",
    )
    mask: list[list[Point]] = Field(
        default_factory=list,
        description="Polygons ([x, y] source-frame pixels) where motion is ignored (trees, clocks, traffic).",
    )
    crop: bool = Field(
        default=False,
        description="Run the detector on one crop around motion and live tracks when it is small against the "
        "frame (off by default: it changes what a letterboxed model sees; see docs/fast-path.md).",
    )
    crop_max_area_fraction: float = Field(
        default=0.4,
        gt=0,
        le=1,
        description="Crop only when the region covers at most this share of the frame.",
    )
    crop_margin: float = Field(
        default=0.25, ge=0, le=2, description="Grow the region by this share of its size on every side."
    )
    crop_min_px: int = Field(
        default=256, ge=32, le=4096, description="Smallest crop side in frame pixels (context for the model)."
    )


@dataclass(frozen=True, slots=True)
class MotionResult:
    """Moving regions of one frame, in source-frame pixels."""

    boxes: np.ndarray  # (N, 4) float32 xyxy
    moving_fraction: float  # share of the (unmasked) picture that moved
    reset: bool  # the background was re-learnt (lighting change, camera move or first frame)

    @property
    def has_motion(self) -> bool:
        return len(self.boxes) > 0 or self.reset


@dataclass(frozen=True, slots=True)
class GateDecision:
    run: bool
    reason: str  # warmup | motion | hold | track | idle
    crop: tuple[int, int, int, int] | None = None  # x1, y1, x2, y2 in frame pixels; None = whole frame


class MotionDetector:
    """Background difference on a small grey frame; one instance per camera."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._background: np.ndarray | None = None
        self._mask: np.ndarray | None = None  # uint8, 255 = watched, at motion resolution
        self._size: tuple[int, int] | None = None  # (width, height) of the source frame

    def _small(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        if self._size != (width, height):
            self._size = (width, height)
            self._background = None
            self._mask = self._build_mask(width, height)
        small_w, small_h = self._small_size
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        grey = cv2.resize(grey, (small_w, small_h), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(grey, (3, 3), 0).astype(np.float32)

    @property
    def _small_size(self) -> tuple[int, int]:
        assert self._size is not None
        width, height = self._size
        small_h = min(self.config.frame_height, height)
        return max(1, round(width * small_h / height)), small_h

    def _build_mask(self, width: int, height: int) -> np.ndarray | None:
        if not self.config.mask:
            return None
        small_w, small_h = self._small_size
        scale = np.array([small_w / width, small_h / height])
        mask = np.full((small_h, small_w), 255, np.uint8)
        for polygon in self.config.mask:
            pts = np.round(np.asarray(polygon, np.float64) * scale).astype(np.int32)
            cv2.fillPoly(mask, [pts], 0)
        return mask

    def detect(self, image: np.ndarray) -> MotionResult:
        grey = self._small(image)
        empty = np.zeros((0, 4), np.float32)
        if self._background is None:
            self._background = grey.copy()
            return MotionResult(empty, 1.0, True)
        diff = cv2.absdiff(grey, self._background)
        moving = (diff > self.config.threshold).astype(np.uint8) * 255
        if self._mask is not None:
            moving = cv2.bitwise_and(moving, self._mask)
        watched = int(np.count_nonzero(self._mask)) if self._mask is not None else moving.size
        fraction = float(np.count_nonzero(moving)) / max(watched, 1)
        if fraction > self.config.lighting_change_fraction:
            self._background = grey.copy()
            return MotionResult(empty, fraction, True)
        cv2.accumulateWeighted(grey, self._background, self.config.learn_alpha)
        moving = cv2.dilate(moving, None, iterations=2)
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        small_w, small_h = self._small_size
        assert self._size is not None
        sx, sy = self._size[0] / small_w, self._size[1] / small_h
        rects = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= self.config.min_area_px]
        boxes = [(x * sx, y * sy, (x + w) * sx, (y + h) * sy) for x, y, w, h in rects]
        return MotionResult(np.asarray(boxes, np.float32).reshape(-1, 4), fraction, False)


class MotionGate:
    """Per frame: run the detector or not, on the whole frame or a crop (see the module docstring)."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self.motion = MotionDetector(self.config)
        self._frames = 0
        self._since_motion = 10**9
        self.counts: dict[str, int] = {}
        self._measured: dict[int, MotionResult] = {}  # frame index → motion measured ahead by `measure`

    def measure(self, frame: Frame) -> MotionResult:
        """Measure `frame`'s motion ahead of `decide` (the decode-ahead thread calls this, off the frame
        loop). Every frame must then come through here, in order: the background learns from each."""
        result = self._measured[frame.index] = self.motion.detect(frame.image)
        return result

    def decide(
        self,
        image: np.ndarray,
        track_boxes: Sequence[Sequence[float]] = (),
        *,
        frame_index: int | None = None,
    ) -> GateDecision:
        """`track_boxes`: last boxes (xyxy, frame pixels) of the tracker's live tracks. `frame_index`: take
        the motion `measure` found for that frame, if it ran."""
        measured = self._measured.pop(frame_index, None) if frame_index is not None else None
        result = measured if measured is not None else self.motion.detect(image)
        self._frames += 1
        self._since_motion = 0 if result.has_motion else self._since_motion + 1
        if self._frames <= self.config.warmup_frames:
            decision = GateDecision(True, "warmup")
        elif result.reset:
            decision = GateDecision(True, "motion")
        elif result.has_motion:
            decision = GateDecision(True, "motion", self._crop(image, result.boxes, track_boxes))
        elif len(track_boxes):
            decision = GateDecision(True, "track", self._crop(image, result.boxes, track_boxes))
        elif self._since_motion <= self.config.hold_frames:
            decision = GateDecision(True, "hold")
        else:
            decision = GateDecision(False, "idle")
        self.counts[decision.reason] = self.counts.get(decision.reason, 0) + 1
        return decision

    def _crop(
        self, image: np.ndarray, motion_boxes: np.ndarray, track_boxes: Sequence[Sequence[float]]
    ) -> tuple[int, int, int, int] | None:
        if not self.config.crop:
            return None
        boxes = [np.asarray(motion_boxes, np.float32).reshape(-1, 4)]
        if len(track_boxes):
            boxes.append(np.asarray(track_boxes, np.float32).reshape(-1, 4))
        region = crop_region(np.concatenate(boxes), image.shape[1], image.shape[0], self.config)
        return region


def crop_region(
    boxes: np.ndarray, width: int, height: int, config: MotionConfig
) -> tuple[int, int, int, int] | None:
    """One integer rectangle around `boxes` grown by the margin, or None when it is too large to pay off."""
    if len(boxes) == 0:
        return None
    x1, y1 = float(boxes[:, 0].min()), float(boxes[:, 1].min())
    x2, y2 = float(boxes[:, 2].max()), float(boxes[:, 3].max())
    mx, my = (x2 - x1) * config.crop_margin, (y2 - y1) * config.crop_margin
    x1, y1, x2, y2 = x1 - mx, y1 - my, x2 + mx, y2 + my
    side = min(config.crop_min_px, width, height)
    if x2 - x1 < side:
        cx = (x1 + x2) / 2
        x1, x2 = cx - side / 2, cx + side / 2
    if y2 - y1 < side:
        cy = (y1 + y2) / 2
        y1, y2 = cy - side / 2, cy + side / 2
    # shift inside the frame rather than shrink, so the crop keeps its context
    dx = max(0.0, -x1) - max(0.0, x2 - width)
    dy = max(0.0, -y1) - max(0.0, y2 - height)
    x1, x2, y1, y2 = x1 + dx, x2 + dx, y1 + dy, y2 + dy
    left, top = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    right, bottom = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
    if (right - left) * (bottom - top) > config.crop_max_area_fraction * width * height:
        return None
    return left, top, right, bottom


def detect_in(detector: Detector, image: np.ndarray, crop: tuple[int, int, int, int] | None) -> Detections:
    """Detect on the whole frame, or on `crop` with the boxes shifted back to frame pixels."""
    if crop is None:
        return detector.detect(image)
    x1, y1, x2, y2 = crop
    found = detector.detect(np.ascontiguousarray(image[y1:y2, x1:x2]))
    if not len(found):
        return found
    xyxy = found.xyxy.astype(np.float32, copy=True)
    xyxy[:, [0, 2]] += x1
    xyxy[:, [1, 3]] += y1
    return replace(found, xyxy=xyxy)
