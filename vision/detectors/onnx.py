"""What every ONNX detector shares: the runner, class mapping, confidence filter, NMS, `Detections` out.

A family (`yolo.py`, `yolox.py`) supplies only `_preprocess` (frame → input tensor + letterbox) and
`_decode` (one image's raw output → candidate boxes in model-input pixels, scores and raw class ids).
"""

from __future__ import annotations

import threading
import weakref
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from autofine.contract import ModelInfo
from autofine.errors import UserError
from vision.detections import Detections
from vision.detectors.base import Detector
from vision.detectors.letterbox import Letterbox
from vision.detectors.nms import nms
from vision.detectors.runtime import OnnxRunner


@dataclass(frozen=True)
class ClassMapping:
    """Raw model classes → the classes the pipeline sees. A raw class mapped to None is dropped."""

    raw_names: dict[int, str]
    names: dict[int, str]  # mapped id → mapped name
    raw_to_mapped: np.ndarray  # (num_raw,) mapped id per raw id, -1 = dropped

    @classmethod
    def build(cls, raw_names: Mapping[int, str], class_map: Mapping[str, str | None] | None) -> ClassMapping:
        class_map = dict(class_map or {})
        unknown = set(class_map) - set(raw_names.values())
        if unknown:
            raise UserError(
                f"class map names {sorted(unknown)} that the model does not have; "
                f"its classes are {sorted(set(raw_names.values()))}"
            )
        names: dict[int, str] = {}
        lookup = np.full(max(raw_names, default=-1) + 1, -1, dtype=np.int64)
        for raw_id in sorted(raw_names):
            raw_name = raw_names[raw_id]
            mapped = class_map.get(raw_name, raw_name)
            if mapped is None:
                continue
            existing = next((i for i, n in names.items() if n == mapped), None)
            if existing is None:
                existing = len(names)
                names[existing] = mapped
            lookup[raw_id] = existing
        return cls(raw_names=dict(raw_names), names=names, raw_to_mapped=lookup)


_MAX_AHEAD = 64  # frames letterboxed ahead and not yet detected, per detector (all cameras sharing it)


class OnnxDetector(Detector):
    """An ONNX model run through `OnnxRunner`; subclasses implement one family's pre/post-processing."""

    family: str = "onnx"

    def __init__(
        self,
        runner: OnnxRunner,
        *,
        raw_names: Mapping[int, str],
        input_size: tuple[int, int],
        model_info: ModelInfo,
        class_map: Mapping[str, str | None] | None = None,
        conf: float = 0.25,
        iou: float = 0.45,
        max_det: int = 300,
    ) -> None:
        if not 0.0 <= conf <= 1.0 or not 0.0 <= iou <= 1.0:
            raise UserError(f"conf and iou must be within 0..1, got conf={conf}, iou={iou}")
        self.runner = runner
        self.mapping = ClassMapping.build(raw_names, class_map)
        self.names = self.mapping.names
        self.input_size = input_size  # (width, height) of the model input
        self.model_info = model_info
        self.conf = conf
        self.iou = iou
        self.max_det = max_det
        self.origin = ""  # one line: which model this is and why it was chosen (set by load_detector)
        # frames letterboxed ahead by `prepare_ahead`: id(image) → (weak ref to image, tensor, letterbox)
        self._ahead: dict[int, tuple[weakref.ref, np.ndarray, Letterbox]] = {}
        self._ahead_lock = threading.RLock()  # RLock: an entry's finalizer may run inside a locked block

    def prepare_ahead(self, image: np.ndarray) -> None:
        """Letterbox and normalise `image` now (the decode-ahead thread calls this, beside inference), so a
        later `detect` of the same array skips that step. The entry goes when it is used, discarded, or the
        array is freed (a frame read ahead but never analysed)."""
        tensor, box = self._preprocess(_check_image(image))
        key = id(image)
        with self._ahead_lock:  # cameras sharing this detector prepare from their own threads
            if len(self._ahead) >= _MAX_AHEAD:  # safety net: drop the oldest
                self._ahead.pop(next(iter(self._ahead)))
            self._ahead[key] = (weakref.ref(image), tensor, box)
        weakref.finalize(image, self._forget, key, weakref.ref(tensor))

    def discard_ahead(self, image: np.ndarray) -> None:
        """Forget what `prepare_ahead` made for `image` (the frame was skipped or cropped)."""
        with self._ahead_lock:
            self._ahead.pop(id(image), None)

    def _forget(self, key: int, tensor: weakref.ref) -> None:
        with self._ahead_lock:  # only the entry made for the freed array, not a newer one at the same id
            entry = self._ahead.get(key)
            if entry is not None and entry[1] is tensor():
                del self._ahead[key]

    def _prepared(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        with self._ahead_lock:
            entry = self._ahead.pop(id(image), None)
        if entry is not None and entry[0]() is image:  # the same array object, not a new one at a reused id
            return entry[1], entry[2]
        return self._preprocess(_check_image(image))

    @property
    def providers(self) -> list[str]:
        return self.runner.providers

    @property
    def raw_names(self) -> dict[int, str]:
        return self.mapping.raw_names

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        if len(images) == 0:
            return []
        prepared = [self._prepared(im) for im in images]
        results: list[Detections | None] = [None] * len(images)
        # one run per input shape: frames of one size share a run (a rect model's input follows the frame)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, (tensor, _) in enumerate(prepared):
            by_shape.setdefault(tensor.shape, []).append(i)
        for indices in by_shape.values():
            tensors = [prepared[i][0] for i in indices]
            # one frame needs no copy into a batch (a 640×480 float tensor is 3.7 MB)
            outputs = self.runner.run(tensors[0][None] if len(tensors) == 1 else np.stack(tensors))
            for j, i in enumerate(indices):
                results[i] = self._to_detections(self._decode(outputs, j), prepared[i][1])
        return results  # type: ignore[return-value]

    @abstractmethod
    def _preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """BGR uint8 H×W×3 → (float32 C×H×W model input, how the frame was placed in it)."""

    @abstractmethod
    def _decode(self, outputs: list[np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image `index` of a batch output → (xyxy in model-input pixels, score, raw class id); rows at or
        below `self.conf` may already be left out."""

    def _to_detections(
        self, decoded: tuple[np.ndarray, np.ndarray, np.ndarray], box: Letterbox
    ) -> Detections:
        xyxy, scores, raw_ids = decoded
        keep = scores > self.conf
        xyxy, scores, raw_ids = xyxy[keep], scores[keep], raw_ids[keep]
        mapped = self.mapping.raw_to_mapped[raw_ids]
        kept_class = mapped >= 0
        xyxy, scores, raw_ids, mapped = (
            xyxy[kept_class],
            scores[kept_class],
            raw_ids[kept_class],
            mapped[kept_class],
        )
        order = nms(xyxy, scores, mapped, self.iou, self.max_det)
        if order.size == 0:
            empty = Detections.empty()
            return Detections(
                xyxy=empty.xyxy,
                confidence=empty.confidence,
                class_id=empty.class_id,
                class_name=empty.class_name,
                data={"raw_class_id": np.zeros(0, np.int64), "raw_class_name": np.zeros(0, object)},
            )
        raw_ids = raw_ids[order]
        mapped = mapped[order]
        return Detections(
            xyxy=box.to_source(xyxy[order]),
            confidence=scores[order].astype(np.float32),
            class_id=mapped.astype(np.int64),
            class_name=np.array([self.names[int(i)] for i in mapped], dtype=object),
            data={
                "raw_class_id": raw_ids.astype(np.int64),
                "raw_class_name": np.array([self.mapping.raw_names[int(i)] for i in raw_ids], dtype=object),
            },
        )


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise ValueError(f"detector expects BGR uint8 H×W×3 frames, got {type(image).__name__} {shape}")
    return image
