"""Detector plugins behind one interface (`Detector.detect_batch(images) -> list[Detections]`).

`load_detector` is the one entry point: a registry id (or `default`) or an `.onnx` path in, a ready detector
out. The model family is taken from the registry, else recognised from the file itself: ultralytics metadata
→ `yolo`; a `(1, N, 85)` output → `yolox` with COCO names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from autofine.errors import UserError
from vision.detectors.base import Detector
from vision.detectors.onnx import OnnxDetector
from vision.detectors.runtime import OnnxRunner
from vision.detectors.tta import VIEW_CONF, FlipTTA

if TYPE_CHECKING:
    from vision.scene import CameraConfig

log = logging.getLogger("autofine.detectors")

__all__ = [
    "Detector",
    "FlipTTA",
    "OnnxDetector",
    "load_detector",
    "load_flip_tta",
    "load_camera_detector",
    "detect_family",
]

_KEEP_REGISTRY_MAP = object()


def detect_family(runner: OnnxRunner) -> str:
    """`yolo` or `yolox`, recognised from the ONNX file; a `UserError` when it is neither."""
    from vision.detectors.yolo import is_ultralytics
    from vision.detectors.yolox import is_yolox

    if is_ultralytics(runner):
        return "yolo"
    if is_yolox(runner):
        return "yolox"
    raise UserError(
        f"{runner.path.name} is not a recognised detector: no ultralytics metadata (names, imgsz, stride) "
        "and "
        f"output {runner.output_shapes} is not a YOLOX (1, N, 85) head; export it with ultralytics "
        "(`autofine models export`) or register it in models/registry.yaml"
    )


def load_detector(
    model: str | Path = "default",
    *,
    path: str | Path | None = None,
    providers: list[str] | None = None,
    threads: int | None = None,
    conf: float = 0.25,
    iou: float = 0.45,
    class_map: Mapping[str, str | None] | None = _KEEP_REGISTRY_MAP,  # type: ignore[assignment]
    rect: bool = True,
    spin: bool = False,
) -> OnnxDetector:
    """Build a ready detector.

    `model`: a registry id (`yolox-nano`, `fall-yolov8s`, `yolo11n`, `default`) or a path to an `.onnx` file.
    `path`: a local file for a registry id (accepted with its own sha256). `class_map`: raw class → pipeline
    class (None drops it); by default the registry's map, `{}` or None keeps the raw classes. `rect`: pad a
    frame only to the next stride multiple when the model accepts any input size (ultralytics `dynamic=True`).
    `spin`: let idle onnxruntime threads busy-wait (faster alone, slower beside other busy threads).
    """
    from models.registry import resolve
    from vision.detectors.yolo import YoloDetector
    from vision.detectors.yolox import YoloxDetector

    obtained = resolve(model, path=path)
    runner = OnnxRunner(obtained.path, providers=providers, threads=threads, spin=spin)
    entry = obtained.entry
    family = entry.family if entry is not None else detect_family(runner)
    if class_map is _KEEP_REGISTRY_MAP:
        class_map = entry.class_map if entry is not None else None
    common = {"model_info": obtained.info, "class_map": class_map, "conf": conf, "iou": iou}
    if family == "yolo":
        detector: OnnxDetector = YoloDetector(runner, rect=rect, **common)
    else:
        raw_names = dict(enumerate(entry.class_names)) if entry is not None else None
        detector = YoloxDetector(runner, raw_names=raw_names, **common)
    detector.origin = obtained.reason
    log.info("model: %s; providers %s", obtained.reason, ", ".join(runner.providers))
    return detector


def load_flip_tta(
    model: str | Path,
    *,
    conf: float = 0.25,
    fuse_iou: float = 0.55,
    path: str | Path | None = None,
    providers: list[str] | None = None,
    threads: int | None = None,
    class_map: Mapping[str, str | None] | None = _KEEP_REGISTRY_MAP,  # type: ignore[assignment]
) -> FlipTTA:
    """`load_detector(model, ...)` run on each image and its mirror, boxes fused (`fuse_iou`), kept above
    `conf`; the views run at `VIEW_CONF` so a weak second view still adds its score."""
    view = load_detector(
        model, path=path, providers=providers, threads=threads, conf=min(conf, VIEW_CONF), class_map=class_map
    )
    return FlipTTA(view, conf=conf, iou=fuse_iou)


def load_camera_detector(config: CameraConfig, *, threads: int | None = None) -> OnnxDetector:
    """A camera's person detector as its config says: model, model_path, providers, threads, spin, rect."""
    return load_detector(
        config.model,
        path=config.model_path,
        providers=config.detector.providers or None,
        threads=threads or config.detector.threads,
        rect=config.detector.rect,
        spin=config.detector.spin,
    )
