"""YOLOX models (Megvii's ONNX exports): top-left letterbox, BGR 0–255 input, grid decode of `(B, N, 5+nc)`.

The export has no metadata, so the class names are COCO's 80 unless the registry says otherwise.
"""

from __future__ import annotations

import numpy as np

from autofine.errors import UserError
from vision.detectors.coco import COCO80
from vision.detectors.letterbox import Letterbox, letterbox
from vision.detectors.onnx import OnnxDetector
from vision.detectors.runtime import OnnxRunner

STRIDES: tuple[int, ...] = (8, 16, 32)


def is_yolox(runner: OnnxRunner, num_classes: int = len(COCO80)) -> bool:
    shape = runner.output_shapes[0]
    return len(runner.output_shapes) == 1 and len(shape) == 3 and shape[2] == 5 + num_classes


def grid_and_strides(
    width: int, height: int, strides: tuple[int, ...] = STRIDES
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) cell offsets (x, y) and (N, 1) strides, in the order YOLOX flattens its three heads."""
    grids, expanded = [], []
    for stride in strides:
        hs, ws = height // stride, width // stride
        xv, yv = np.meshgrid(np.arange(ws), np.arange(hs))
        grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
        expanded.append(np.full((hs * ws, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(expanded).astype(np.float32)


class YoloxDetector(OnnxDetector):
    """A YOLOX ONNX export without in-graph decoding (the official release's form)."""

    family = "yolox"

    def __init__(self, runner: OnnxRunner, *, raw_names: dict[int, str] | None = None, **kwargs) -> None:
        raw_names = raw_names or dict(enumerate(COCO80))
        _, _, height, width = runner.input_shape
        if not isinstance(height, int) or not isinstance(width, int):
            raise UserError(f"{runner.path.name} has a dynamic input size; YOLOX exports need a fixed one")
        if not is_yolox(runner, len(raw_names)):
            raise UserError(
                f"{runner.path.name}: output shapes {runner.output_shapes} are not a YOLOX head for "
                f"{len(raw_names)} classes (expected (1, N, {5 + len(raw_names)}))"
            )
        super().__init__(runner, raw_names=raw_names, input_size=(width, height), **kwargs)
        self.grid, self.strides = grid_and_strides(width, height)
        anchors = runner.output_shapes[0][1]
        if isinstance(anchors, int) and anchors != len(self.grid):
            raise UserError(f"{runner.path.name}: {anchors} outputs, strides 8/16/32 give {len(self.grid)}")

    def _preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        padded, box = letterbox(image, self.input_size, centre=False)
        return np.ascontiguousarray(padded.transpose(2, 0, 1), dtype=np.float32), box  # BGR, 0..255

    def _decode(self, outputs: list[np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        prediction = np.asarray(outputs[0][index], dtype=np.float32)  # (N, 5+nc)
        xy = (prediction[:, :2] + self.grid) * self.strides
        wh = np.exp(prediction[:, 2:4]) * self.strides
        class_scores = prediction[:, 5:] * prediction[:, 4:5]  # objectness × class, both already sigmoid-ed
        raw_ids = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(prediction)), raw_ids]
        xyxy = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)
        return xyxy, scores, raw_ids.astype(np.int64)
