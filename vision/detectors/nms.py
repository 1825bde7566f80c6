"""Class-aware non-maximum suppression in numpy (no torch at runtime)."""

from __future__ import annotations

import numpy as np

# Offsetting each class's boxes by class_id × this keeps classes from overlapping (ultralytics' trick).
_CLASS_OFFSET = 7680.0


def nms(
    xyxy: np.ndarray,
    scores: np.ndarray,
    class_id: np.ndarray | None,
    iou_threshold: float,
    max_det: int = 300,
) -> np.ndarray:
    """Indices of the boxes to keep, highest score first.

    A box is dropped when its IoU with a higher-scoring kept box of the same class is above `iou_threshold`.
    `class_id=None` suppresses across classes.
    """
    n = len(xyxy)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if class_id is not None:
        boxes = boxes + (np.asarray(class_id, dtype=np.float64) * _CLASS_OFFSET)[:, None]
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        tl = np.maximum(boxes[best, :2], boxes[rest, :2])
        br = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod((br - tl).clip(0), axis=1)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
