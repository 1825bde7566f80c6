"""Letterboxing: fit a frame into the model's square input without distortion, and map boxes back."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114  # grey used by both ultralytics and YOLOX for the padding


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How one frame was placed into the model input: resized by (scale_x, scale_y), shifted by the pad."""

    scale_x: float
    scale_y: float
    pad_x: int  # pixels of padding on the left
    pad_y: int  # pixels of padding on the top
    source_width: int
    source_height: int

    def to_source(self, xyxy: np.ndarray) -> np.ndarray:
        """Map (N, 4) xyxy boxes from model-input pixels back to source-frame pixels, clipped to the frame."""
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - self.pad_x) / self.scale_x
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - self.pad_y) / self.scale_y
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, self.source_width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, self.source_height)
        return boxes


def letterbox(
    image: np.ndarray, size: tuple[int, int], *, centre: bool = True, pad_value: int = PAD_VALUE
) -> tuple[np.ndarray, Letterbox]:
    """Resize `image` (H×W×C) to fit `size` = (width, height) keeping its aspect ratio, then pad.

    `centre=True` splits the padding evenly as ultralytics' `LetterBox` does (same rounding, so boxes match
    ultralytics exactly); `centre=False` pads only right and bottom, as YOLOX's `preproc` does.
    """
    height, width = image.shape[:2]
    target_w, target_h = size
    ratio = min(target_w / width, target_h / height)
    if centre:
        new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    else:  # YOLOX truncates
        new_w, new_h = max(int(width * ratio), 1), max(int(height * ratio), 1)
    resized = image if (new_w, new_h) == (width, height) else cv2.resize(image, (new_w, new_h))
    if centre:
        dw, dh = (target_w - new_w) / 2, (target_h - new_h) / 2
        left, top = round(dw - 0.1), round(dh - 0.1)
    else:
        left, top = 0, 0
    right, bottom = target_w - new_w - left, target_h - new_h - top
    if left or top or right or bottom:
        out = cv2.copyMakeBorder(
            resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(pad_value,) * image.shape[2]
        )
    else:  # a rect input that fits the frame exactly: nothing to pad
        out = resized
    box = Letterbox(
        scale_x=new_w / width,
        scale_y=new_h / height,
        pad_x=left,
        pad_y=top,
        source_width=width,
        source_height=height,
    )
    return out, box
