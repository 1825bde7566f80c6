"""Speed against accuracy for the default person model, one step at a time, in one run.

The ladder from the PyPI fall YOLOv8s to the bundled `fall-yolov8s-int8`:

1. the shipped float file (fixed 1×3×640×640);
2. the dynamic re-export (models/training/export_sizes.py), square 640×640 — the same network;
3. the same file with `rect` (a 768×576 vtest frame runs at 640×480);
4. 480 px (square and rect) — smaller input;
5. INT8 with the whole detection head float (models/training/quantize.py, `head_convs=False`);
6. INT8 with the head's convolutions INT8 too — the bundled model.

For each: detector ms per vtest frame (letterbox + inference + decode/NMS, median, batch 1), person AP50 on
coco128 (project evaluation code), and the vtest jaywalking events (annotated first 20 s) with TP/FP/FN.

    .venv/bin/python -m benchmarks.model_variants_bench

Writes `benchmarks/results/model_variants/model_variants.{json,md}`. Needs the `train` extra (the dynamic
re-export) and ../shared (coco128 and the calibration clips). Run it on an idle machine: it times inference.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
COCO = REPO.parent / "shared" / "datasets" / "coco128" / "data.yaml"
VTEST_EVENTS = REPO / "datasets" / "events" / "vtest.yaml"


@dataclass(frozen=True)
class Step:
    name: str
    model: str  # registry id (keeps the Normal/Fall → person map)
    path: Path | None
    rect: bool


def _ms_per_frame(detector, frames, repeats: int) -> float:
    detector.detect(frames[0])  # warm-up
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        detector.detect(frames[i % len(frames)])
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def _events(step: Step, threads: int) -> dict:
    from evaluation.event_eval import run_event_eval
    from vision.detectors import load_detector

    detector = load_detector(step.model, path=step.path, rect=step.rect, threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        _, report, _ = run_event_eval([VTEST_EVENTS], lambda clip: detector, Path(tmp), model=step.name)
    scores = report["totals"]["jaywalking"]
    return {k: scores[k] for k in ("tp", "fp", "fn")}


def steps(int8_head_float: Path) -> list[Step]:
    from models.training.export_sizes import export_variants, variant_path
    from models.training.fast_person import calibration_videos
    from models.training.quantize import quantize_and_verify

    for size in (640, 480):
        if not variant_path(size).is_file():
            export_variants((size,))
    dyn640, dyn480 = variant_path(640), variant_path(480)
    if not int8_head_float.is_file():
        quantize_and_verify(
            "fall-yolov8s",
            dyn640,
            int8_head_float,
            calibration_videos(),
            COCO,
            head_convs=False,
            ap_budget=1.0,  # measured here, not judged
        )
    return [
        Step("shipped float 640×640 (fixed)", "fall-yolov8s", None, False),
        Step("dynamic float 640, square", "fall-yolov8s", dyn640, False),
        Step("dynamic float 640, rect", "fall-yolov8s", dyn640, True),
        Step("dynamic float 480, square", "fall-yolov8s", dyn480, False),
        Step("dynamic float 480, rect", "fall-yolov8s", dyn480, True),
        Step("INT8, head float, rect", "fall-yolov8s", int8_head_float, True),
        Step("INT8, head convs INT8, rect (bundled)", "fall-yolov8s-int8", None, True),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "model_variants")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from models.training.export_sizes import variants_dir
    from models.training.quantize import person_ap50, video_frames
    from vision.detectors import load_detector
    from vision.samples import fetch_sample

    head_float = variants_dir() / "fall-yolov8s_dyn_640_int8_headfloat.onnx"
    timing_frames = video_frames(fetch_sample("vtest.avi"), 8, start=300)
    load_at_start = os.getloadavg()
    rows = []
    for step in steps(head_float):
        detector = load_detector(step.model, path=step.path, rect=step.rect, threads=args.threads)
        width, height = detector.input_size_for(*timing_frames[0].shape[:2])
        row = {
            "step": step.name,
            "file": (step.path or detector.runner.path).name,
            "input": f"{width}×{height}",
            "ms_per_frame": _ms_per_frame(detector, timing_frames, args.repeats),
            "person_ap50_coco128": person_ap50(step.model, step.path, COCO, rect=step.rect),
            "vtest_jaywalking": _events(step, args.threads),
        }
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.1f}" for x in load_at_start)
    (args.out / "model_variants.json").write_text(
        json.dumps({"when": when, "load_average_at_start": load_at_start, "rows": rows}, indent=2)
    )
    base = rows[0]["ms_per_frame"]
    lines = [
        f"# Default person model: speed against accuracy ({when})",
        "",
        f"2-core Xeon (AVX-512 VNNI), {args.threads} onnxruntime threads, load average at start {load}. ms: "
        "letterbox + inference + decode/NMS per vtest frame (768×576), median of "
        f"{args.repeats}. AP50: person, coco128 (rect where the step says rect). Events: vtest jaywalking, "
        "11 annotated walks in the first 20 s.",
        "",
        "| step | input on vtest | ms/frame | speed-up | person AP50 | jaywalking TP / FP / FN |",
        "|---|---|---:|---:|---:|---|",
        *(
            f"| {r['step']} | {r['input']} | {r['ms_per_frame']:.1f} | {base / r['ms_per_frame']:.2f}× | "
            f"{r['person_ap50_coco128']:.3f} | {r['vtest_jaywalking']['tp']} / {r['vtest_jaywalking']['fp']}"
            f" / {r['vtest_jaywalking']['fn']} |"
            for r in rows
        ),
        "",
        "Command: `.venv/bin/python -m benchmarks.model_variants_bench`",
    ]
    (args.out / "model_variants.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
