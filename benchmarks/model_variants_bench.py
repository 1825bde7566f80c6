"""Speed against accuracy for the default person model's variants: input 320/480/640, float32 and INT8.

For each size: the dynamic-batch re-export (models/training/export_sizes.py) and its INT8 quantisation
(models/training/quantize.py, calibrated on 24 frames of vtest.avi, head kept float). Reports person AP50 on
coco128 (project evaluation code), detector ms per vtest frame (pre + inference + post, median of N), and
ms per frame at batch 1 and 4.

    .venv/bin/python -m benchmarks.model_variants_bench --out benchmarks/results/model_variants

Writes `model_variants.json` and `model_variants.md`.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
COCO = REPO.parent / "shared" / "datasets" / "coco128" / "data.yaml"


def _ms_per_frame(detector, frames, batch: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        chunk = [frames[i % len(frames)] for i in range(batch)]
        t0 = time.perf_counter()
        detector.detect_batch(chunk)
        times.append((time.perf_counter() - t0) * 1000 / batch)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "model_variants")
    parser.add_argument("--sizes", default="320,480,640")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from models.training.export_sizes import export_variants, variant_path
    from models.training.quantize import person_ap50, quantize_int8, video_frames
    from vision.detectors import load_detector
    from vision.samples import fetch_sample

    vtest = fetch_sample("vtest.avi")
    calibration = video_frames(vtest, 24)
    timing_frames = video_frames(vtest, 8, start=300)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        fp32 = variant_path(size)
        if not fp32.is_file():
            export_variants((size,))
        int8 = fp32.with_name(fp32.stem + "_int8.onnx")
        detector = load_detector("fall-yolov8s", path=fp32, threads=args.threads)
        if not int8.is_file():
            quantize_int8(fp32, int8, calibration, lambda f, d=detector: d._preprocess(f)[0])
        for precision, path in (("fp32", fp32), ("int8", int8)):
            det = load_detector("fall-yolov8s", path=path, threads=args.threads)
            person = det.detect_batch(timing_frames[:1])  # warm-up
            row = {
                "imgsz": size,
                "precision": precision,
                "file": path.name,
                "ms_per_frame_b1": _ms_per_frame(det, timing_frames, 1, args.repeats),
                "ms_per_frame_b4": _ms_per_frame(det, timing_frames, 4, max(2, args.repeats // 2)),
                "vtest_people_frame300": len(person[0]),
                "person_ap50_coco128": person_ap50("fall-yolov8s", path, COCO),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (args.out / "model_variants.json").write_text(json.dumps({"when": when, "rows": rows}, indent=2))
    lines = [
        f"# Default person model variants ({when}, {args.threads} onnxruntime threads, 2-core machine)",
        "",
        "| input | precision | ms/frame batch 1 | ms/frame batch 4 | person AP50 coco128 |",
        "|---|---|---|---|---|",
        *(
            f"| {r['imgsz']} | {r['precision']} | {r['ms_per_frame_b1']:.1f} | {r['ms_per_frame_b4']:.1f} | "
            f"{r['person_ap50_coco128']:.3f} |"
            for r in rows
        ),
        "",
        "Command: `.venv/bin/python -m benchmarks.model_variants_bench`",
    ]
    (args.out / "model_variants.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
