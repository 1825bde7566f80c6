"""The detector interface: frames in, `Detections` out. Model families plug in behind it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from autofine.contract import ModelInfo
from vision.detections import Detections


class Detector(ABC):
    """Runs one model. Implementations own pre/post-processing; `runtime.py` owns the ONNX session."""

    names: dict[int, str]  # class id → class name as the pipeline sees it (after any class mapping)
    model_info: ModelInfo  # id, version, sha256 of what runs: recorded with every violation
    family: str = ""  # model family, e.g. "yolo" or "yolox"
    origin: str = ""  # one line: which model this is and why it was chosen (for logs)

    @abstractmethod
    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detect on several BGR uint8 frames (e.g. one per camera); one `Detections` per frame."""

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]
