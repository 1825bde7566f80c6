"""Privacy in stored evidence: blur the head/face of every person except the offender.

The reviewer must see the offender; everyone else in the picture is a bystander whose face has no business
in a fine's evidence. The head is taken as the upper `head_fraction` of a person box (boxes are upright
pedestrians). The offender's whole box is restored from the original afterwards, so a bystander's blur that
overlaps the offender never hides them.

Detectors miss people (far, occluded, half out of frame), so on top of the heads every *moving* region outside
the offender's box is blurred as well: `motion_masks` compares each clip frame with the clip's own median
background (a moving person is absent from the median at any pixel they cover less than half the time) and
dilates what differs. The offender's box (and any kept box, e.g. the dropped object) is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vision.detections import Detections, box_iou

METHOD = "downscale-8x-gaussian-blur"  # what `strong_blur` does, recorded in every violation
_MOTION_SCALE = 0.5  # masks are computed at half size: enough for people-sized regions, 4x cheaper
_MAX_BACKGROUND_FRAMES = 31


@dataclass(frozen=True)
class RedactionResult:
    image: np.ndarray
    regions: tuple[tuple[int, int, int, int], ...]  # blurred xyxy regions


def head_region(xyxy: np.ndarray, head_fraction: float, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    pad = 0.1 * (x2 - x1)
    hx1, hx2 = int(max(0, x1 - pad)), int(min(width, x2 + pad))
    hy1, hy2 = int(max(0, y1 - 0.05 * (y2 - y1))), int(min(height, y1 + head_fraction * (y2 - y1)))
    return hx1, hy1, hx2, hy2


def redact_bystanders(
    image: np.ndarray,
    detections: Detections,
    *,
    person_class: str = "person",
    offender_track_id: int | None = None,
    offender_xyxy: tuple[float, float, float, float] | None = None,
    head_fraction: float = 0.3,
    motion: np.ndarray | None = None,
    keep_xyxy: Sequence[tuple[float, float, float, float]] = (),
) -> RedactionResult:
    """A copy of `image` with every non-offender person's head blurred.

    The offender is the row with `offender_track_id`, or (when it was not tracked in this frame) the person
    box overlapping `offender_xyxy` with IoU ≥ 0.5. `motion` (a bool mask, see `motion_masks`) is blurred
    too, except inside the offender's box and `keep_xyxy` (boxes that are evidence, such as a dropped object).
    """
    out = image.copy()
    h, w = image.shape[:2]
    people = detections.of_classes([person_class]) if len(detections) else detections
    offender_mask = np.zeros(len(people), dtype=bool)
    if offender_track_id is not None and people.tracker_id is not None:
        offender_mask |= people.tracker_id == offender_track_id
    if offender_xyxy is not None and len(people):
        offender_mask |= box_iou(people.xyxy, np.array([offender_xyxy]))[:, 0] >= 0.5
    regions = []
    for box in people.xyxy[~offender_mask]:
        x1, y1, x2, y2 = head_region(box, head_fraction, w, h)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        out[y1:y2, x1:x2] = strong_blur(out[y1:y2, x1:x2])
        regions.append((x1, y1, x2, y2))
    keep = [people.xyxy[i] for i in np.flatnonzero(offender_mask)]
    if offender_xyxy is not None:
        keep.append(np.asarray(offender_xyxy))
    keep.extend(np.asarray(box) for box in keep_xyxy)
    if motion is not None and motion.any():
        moving = motion.copy()
        for box in keep:
            x1, y1 = int(max(0, box[0])), int(max(0, box[1]))
            moving[y1 : int(min(h, np.ceil(box[3]))), x1 : int(min(w, np.ceil(box[2])))] = False
        for x1, y1, x2, y2 in _component_boxes(moving):  # blur each moving region's box, not the frame
            roi = out[y1:y2, x1:x2]
            np.copyto(roi, strong_blur(roi), where=moving[y1:y2, x1:x2, None])
            regions.append((x1, y1, x2, y2))
    for box in keep:
        x1, y1 = int(max(0, box[0])), int(max(0, box[1]))
        x2, y2 = int(min(w, np.ceil(box[2]))), int(min(h, np.ceil(box[3])))
        out[y1:y2, x1:x2] = image[y1:y2, x1:x2]
    return RedactionResult(out, tuple(regions))


def strong_blur(image: np.ndarray) -> np.ndarray:
    """A blur that leaves no recognisable face or figure: shrink 8x, blur, grow back.

    As strong as a Gaussian with a kernel of half the region, at a fraction of its cost (a whole-body blur
    of every bystander in every clip frame was the largest cost of building evidence).
    """
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


class MotionBackground:
    """A clip's median background (grey, half size); `mask(image)` = what moves against it.

    Built once per clip from its frames; masks are made one frame at a time so a long clip holds no list of
    full-size masks. Fewer than 3 frames give no usable background: every mask is empty (`usable` is False).
    """

    def __init__(self, images: Sequence[np.ndarray], *, threshold: float = 30.0, dilate_px: int = 15) -> None:
        self.threshold = threshold
        self.dilate_px = dilate_px
        self.usable = len(images) >= 3
        self.background: np.ndarray | None = None
        if self.usable:
            step = max(1, len(images) // _MAX_BACKGROUND_FRAMES)
            sampled = [self._grey(im) for im in images[::step]]
            self.background = np.median(np.stack(sampled), axis=0).astype(np.uint8)
        radius = max(1, int(round(dilate_px * _MOTION_SCALE)))
        self._grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        self._opening = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    @staticmethod
    def _grey(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        small = cv2.resize(
            image,
            (max(1, int(w * _MOTION_SCALE)), max(1, int(h * _MOTION_SCALE))),
            interpolation=cv2.INTER_AREA,
        )
        return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)

    def mask(self, image: np.ndarray) -> np.ndarray:
        """Bool mask (image size) of what differs from the background, opened and dilated."""
        h, w = image.shape[:2]
        grey = self._grey(image)
        if self.background is None or grey.shape != self.background.shape:
            return np.zeros((h, w), dtype=bool)
        diff = (cv2.absdiff(grey, self.background) > self.threshold).astype(np.uint8)
        diff = cv2.morphologyEx(diff, cv2.MORPH_OPEN, self._opening)  # drop single-pixel noise
        if self.dilate_px:
            diff = cv2.dilate(diff, self._grow)
        return cv2.resize(diff, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


def motion_masks(
    images: Sequence[np.ndarray], *, threshold: float = 30.0, dilate_px: int = 15
) -> list[np.ndarray]:
    """For each image, a bool mask (image size) of what moves against the clip's median background.

    Fewer than 3 images give no usable background: all-False masks (the caller records that).
    """
    background = MotionBackground(images, threshold=threshold, dilate_px=dilate_px)
    return [background.mask(im) for im in images]


def _component_boxes(mask: np.ndarray, shrink: int = 4) -> list[tuple[int, int, int, int]]:
    """Boxes covering each connected region of `mask`, found on a max-pooled `shrink`× smaller copy (a
    full-size connected-components pass was a sixth of the evidence thread's time); a box covers whole
    cells, so it still covers every pixel of its region."""
    h, w = mask.shape[:2]
    padded = np.zeros((-(-h // shrink) * shrink, -(-w // shrink) * shrink), dtype=bool)
    padded[:h, :w] = mask
    rows, cols = padded.shape[0] // shrink, padded.shape[1] // shrink
    cells = padded.reshape(rows, shrink, cols, shrink).any(axis=(1, 3))
    count, _, stats, _ = cv2.connectedComponentsWithStats(cells.astype(np.uint8), connectivity=8)
    return [
        (int(x * shrink), int(y * shrink), min(w, int((x + bw) * shrink)), min(h, int((y + bh) * shrink)))
        for x, y, bw, bh, _ in stats[1:count]
    ]
