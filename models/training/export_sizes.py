"""Re-export the default person model (the PyPI fall YOLOv8s) with a dynamic batch and at other input sizes.

The shipped `best_fp16.onnx` has a fixed 1×3×640×640 input, so one session cannot run a batch of frames from
several cameras, nor a smaller (faster) input. Its weights load into ultralytics (`bootstrap.load_fused_onnx`,
output reproduced to ~5e-4 px), so ultralytics' own exporter can write the variants. They go into the model
cache (`<cache>/models/fall-yolov8s/variants/`) and are used through the registry id, which keeps the class
map (Normal/Fall → person):

    model: fall-yolov8s
    model_path: ~/.cache/autofine/models/fall-yolov8s/variants/fall-yolov8s_dyn_480.onnx

`variants.json` beside them records each file's sha256, input size, batch axis and source.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from autofine.errors import UserError

SIZES = (320, 480, 640)


@dataclass(frozen=True)
class Variant:
    path: Path
    imgsz: int
    dynamic_batch: bool
    sha256: str
    source_sha256: str
    max_output_difference: float  # PyTorch reload vs the shipped ONNX at 640, model-input pixels


def variants_dir() -> Path:
    from models.registry import cache_dir

    return cache_dir() / "models" / "fall-yolov8s" / "variants"


def variant_path(imgsz: int, *, dynamic: bool = True) -> Path:
    return variants_dir() / f"fall-yolov8s_{'dyn' if dynamic else 'b1'}_{imgsz}.onnx"


def export_variants(
    sizes: tuple[int, ...] = SIZES, *, dynamic: bool = True, check_images: list[Path] | None = None
) -> list[Variant]:
    """Export the fall model at each size (dynamic batch by default) into the cache; returns the files."""
    try:
        from models.training.offline import prepare_offline_ultralytics

        prepare_offline_ultralytics()
        from ultralytics import YOLO
    except ImportError:
        raise UserError("re-exporting needs ultralytics: pip install 'autofine[train]'") from None
    from autofine.hashing import sha256_file
    from models.training.bootstrap import (
        fall_onnx,
        image_batch,
        load_fused_onnx,
        max_output_difference,
        save_checkpoint,
    )

    source = fall_onnx()
    model = load_fused_onnx(source)
    difference = float("nan")
    if check_images:
        difference = max_output_difference(model, source, image_batch(check_images[:2], 640))
        if difference > 1e-2:
            raise UserError(
                f"reloaded fall model differs from {source.name} by {difference:.3g}; not exported"
            )
    model.names = {0: "Normal", 1: "Fall"}
    out_dir = variants_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="autofine-variants-") as tmp:
        checkpoint = save_checkpoint(model, Path(tmp) / "fall-yolov8s.pt", f"reloaded from {source.name}")
        for imgsz in sizes:
            exported = Path(
                YOLO(str(checkpoint), task="detect").export(
                    format="onnx", imgsz=imgsz, dynamic=dynamic, simplify=False, batch=1
                )
            )
            target = variant_path(imgsz, dynamic=dynamic)
            shutil.move(str(exported), target)
            written.append(
                Variant(target, imgsz, dynamic, sha256_file(target), sha256_file(source), difference)
            )
    _record(written)
    return written


def _record(written: list[Variant]) -> None:
    index_path = variants_dir() / "variants.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    for v in written:
        index[v.path.name] = {k: (str(x) if isinstance(x, Path) else x) for k, x in asdict(v).items()}
    index_path.write_text(json.dumps(index, indent=2))


if __name__ == "__main__":
    import sys

    from models.training.bootstrap import calibration_images

    coco = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "coco128" / "images" / "train2017"
    check = calibration_images(coco, 2) if coco.is_dir() else None
    sizes = tuple(int(s) for s in sys.argv[1:]) or SIZES
    for v in export_variants(sizes, check_images=check):
        print(
            v.path,
            v.imgsz,
            "dynamic" if v.dynamic_batch else "batch 1",
            v.sha256[:12],
            v.max_output_difference,
        )
