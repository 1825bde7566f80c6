"""Draw `Detections` onto a frame for a human to look at (annotated videos, debugging)."""

from __future__ import annotations

import cv2
import numpy as np

from vision.detections import Detections

# BGR colours, picked by class id so one class keeps its colour across frames.
_PALETTE: tuple[tuple[int, int, int], ...] = (
    (56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
    (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0),
)  # fmt: skip


def draw_detections(image: np.ndarray, detections: Detections, *, thickness: int = 2) -> np.ndarray:
    """A copy of `image` with one labelled box per detection (`class conf`, plus `#track` if tracked)."""
    canvas = image.copy()
    scale = max(0.4, min(canvas.shape[:2]) / 1200)
    for i in range(len(detections)):
        x1, y1, x2, y2 = (int(round(v)) for v in detections.xyxy[i])
        colour = _PALETTE[int(detections.class_id[i]) % len(_PALETTE)]
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
        name = str(detections.class_name[i])
        raw = detections.data.get("raw_class_name")
        if raw is not None and raw[i] != name:  # e.g. the fall model's `Fall` shown as person/Fall
            name = f"{name}/{raw[i]}"
        label = f"{name} {detections.confidence[i]:.2f}"
        if detections.tracker_id is not None:
            label = f"#{detections.tracker_id[i]} {label}"
        (tw, th), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(y1 - th - baseline - 2, 0)
        left = max(min(x1, canvas.shape[1] - tw - 4), 0)  # keep the label inside the frame
        cv2.rectangle(canvas, (left, top), (left + tw + 4, top + th + baseline + 2), colour, -1)
        cv2.putText(
            canvas,
            label,
            (left + 2, top + th + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return canvas
