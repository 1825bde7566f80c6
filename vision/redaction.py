"""Privacy in stored evidence: blur the head/face of every person except the offender.

The reviewer must see the offender; everyone else in the picture is a bystander whose face has no business
in a fine's evidence. The head is taken as the upper `head_fraction` of a person box (boxes are upright
pedestrians). The offender's whole box is restored from the original afterwards, so a bystander's blur that
overlaps the offender never hides them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.detections import Detections, box_iou

METHOD = "gaussian-blur"


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
) -> RedactionResult:
    """A copy of `image` with every non-offender person's head blurred.

    The offender is the row with `offender_track_id`, or (when it was not tracked in this frame) the person
    box overlapping `offender_xyxy` with IoU ≥ 0.5.
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
        roi = out[y1:y2, x1:x2]
        k = max(3, (max(x2 - x1, y2 - y1) // 2) | 1)  # odd kernel, about half the head size: unrecognisable
        out[y1:y2, x1:x2] = cv2.GaussianBlur(roi, (k, k), 0)
        regions.append((x1, y1, x2, y2))
    keep = [people.xyxy[i] for i in np.flatnonzero(offender_mask)]
    if offender_xyxy is not None:
        keep.append(np.asarray(offender_xyxy))
    for box in keep:
        x1, y1 = int(max(0, box[0])), int(max(0, box[1]))
        x2, y2 = int(min(w, np.ceil(box[2]))), int(min(h, np.ceil(box[3])))
        out[y1:y2, x1:x2] = image[y1:y2, x1:x2]
    return RedactionResult(out, tuple(regions))
