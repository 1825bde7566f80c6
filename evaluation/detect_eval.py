"""`autofine eval detect`: run a detector over a labelled dataset, score it, write JSON + Markdown + PNG."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from autofine.errors import UserError
from datasets.formats import BoxDataset
from evaluation.detection import DetectionReport, evaluate_detections, map_prediction_names
from vision.detections import Detections
from vision.detectors.base import Detector

AP_CONF = 0.001  # predictions kept for AP: AP integrates over every threshold


@dataclass(frozen=True)
class DetectEvalResult:
    report: DetectionReport
    model: str
    dataset: str
    ms_per_image: tuple[float, float, float]  # mean, p50, p95 of detector.detect (pre + infer + post)
    model_info: dict
    files: tuple[Path, ...] = ()


def comparable_classes(
    dataset: BoxDataset,
    model_names: Sequence[str],
    class_map: Mapping[str, str],
    wanted: Sequence[str] | None,
) -> list[str]:
    """Dataset classes the model can predict (after mapping); `wanted` narrows them."""
    predicted = {class_map.get(n, n) for n in model_names}
    common = [n for n in dataset.names.values() if n in predicted]
    if wanted:
        missing = [c for c in wanted if c not in common]
        if missing:
            raise UserError(
                f"classes {missing} are not both in the dataset and predicted by the model; comparable: "
                f"{common[:20]}{' …' if len(common) > 20 else ''} (use --class-map / --dataset-class-map)"
            )
        return list(wanted)
    if not common:
        raise UserError(
            f"the model predicts {sorted(predicted)[:10]} and the dataset has "
            f"{list(dataset.names.values())[:10]}: no class in common; "
            "map them with --class-map 'MODEL=DATASET' or --dataset-class-map"
        )
    return common


def predict_dataset(detector: Detector, dataset: BoxDataset) -> tuple[list[Detections], list[float]]:
    """One `Detections` per image, and the milliseconds each `detect` call took."""
    predictions, times = [], []
    for im in dataset.images:
        image = cv2.imread(str(im.path))
        if image is None:
            raise UserError(f"cannot read image {im.path}; is the dataset complete?")
        start = time.perf_counter()
        predictions.append(detector.detect(image))
        times.append((time.perf_counter() - start) * 1000)
    return predictions, times


def run_detect_eval(
    dataset: BoxDataset,
    detector: Detector,
    *,
    model: str,
    conf: float = 0.25,
    class_map: Mapping[str, str] | None = None,
    classes: Sequence[str] | None = None,
    model_info: dict | None = None,
) -> DetectEvalResult:
    class_map = dict(class_map or {})
    chosen = comparable_classes(dataset, list(detector.names.values()), class_map, classes)
    predictions, times = predict_dataset(detector, dataset)
    predictions = [map_prediction_names(p, class_map) for p in predictions]
    report = evaluate_detections(dataset, predictions, conf=conf, classes=chosen)
    t = np.asarray(times)
    return DetectEvalResult(
        report=report,
        model=model,
        dataset=dataset.source,
        ms_per_image=(float(t.mean()), float(np.percentile(t, 50)), float(np.percentile(t, 95))),
        model_info=model_info or {},
    )


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"  # NaN when a class has no boxes


def summary_markdown(result: DetectEvalResult, when: str) -> str:
    r = result.report
    mean, p50, p95 = result.ms_per_image
    lines = [
        f"# Detection accuracy: {result.model} on {result.dataset}",
        "",
        f"- date: {when}; machine: {platform.machine()} {platform.processor() or ''}".rstrip(),
        f"- images: {r.images}; ground-truth boxes: {r.boxes}; classes: {len(r.classes)}",
        f"- AP: COCO-style (faster-coco-eval) on predictions with confidence ≥ {AP_CONF}; "
        f"P/R at confidence ≥ {r.conf}, IoU ≥ 0.5",
        f"- speed: {mean:.1f} ms per image (p50 {p50:.1f}, p95 {p95:.1f}), pre + inference + post",
        *(
            ["- flip test-time augmentation: each image and its mirror, boxes fused"]
            if result.model_info.get("flip_tta")
            else []
        ),
        "",
        "| class | images | boxes | AP50 | AP50-95 | P | R | TP | FP | FN |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in (*r.classes, r.overall):
        lines.append(
            f"| {c.name} | {c.images} | {c.boxes} | {_fmt(c.ap50)} | {_fmt(c.ap50_95)} | "
            f"{c.precision:.3f} | {c.recall:.3f} | {c.tp} | {c.fp} | {c.fn} |"
        )
    return "\n".join(lines) + "\n"


def plot_pr_curves(report: DetectionReport, path: Path, title: str, max_classes: int = 10) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [(c, m) for c, m in zip(report.curves, report.classes, strict=True) if m.boxes > 0]
    scored.sort(key=lambda cm: -cm[1].boxes)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    for curve, metrics in scored[:max_classes]:
        p = np.where(curve.precision < 0, np.nan, curve.precision)
        (line,) = ax.plot(curve.recall, p, label=f"{curve.name} AP50 {metrics.ap50:.3f}")
        ax.plot(metrics.recall, metrics.precision, "o", color=line.get_color())
    ax.set_xlabel("recall")
    ax.set_ylabel("precision (interpolated, IoU 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"{title}\n(dots: operating point at conf {report.conf})", fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_outputs(result: DetectEvalResult, out_dir: Path, stem: str) -> DetectEvalResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mean, p50, p95 = result.ms_per_image
    payload = {
        "kind": "detection-accuracy",
        "date": when,
        "model": result.model,
        "model_info": result.model_info,
        "dataset": result.dataset,
        "ap_conf": AP_CONF,
        "speed_ms_per_image": {"mean": mean, "p50": p50, "p95": p95},
        **result.report.to_dict(),
    }
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(summary_markdown(result, when))
    tta = " + flip TTA" if result.model_info.get("flip_tta") else ""
    png_path = plot_pr_curves(
        result.report, out_dir / f"{stem}_pr.png", f"{result.model}{tta} on {result.dataset}"
    )
    return DetectEvalResult(**{**result.__dict__, "files": (json_path, md_path, png_path)})
