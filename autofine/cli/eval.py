"""`autofine eval detect|events|convert`: accuracy of detections on datasets and of violations on clips."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from autofine.errors import UserError

app = typer.Typer(help="Measure accuracy: detections on labelled datasets, violations on annotated clips.")


def _stem(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", p).strip("-") for p in parts if p)


def _drop_map(text: str) -> dict[str, str | None]:
    """Like `parse_class_map`, but `NAME=` (nothing after '=') drops that class."""
    from datasets.formats import parse_class_map

    items = [i for i in text.split(",") if i.strip()]
    dropped = {i.split("=", 1)[0].strip() for i in items if i.strip().endswith("=")}
    kept = parse_class_map(",".join(i for i in items if not i.strip().endswith("=")))
    return {**kept, **dict.fromkeys(dropped)}


@app.command()
def detect(
    data: Annotated[
        Path, typer.Option("--data", help="Ultralytics data.yaml or COCO .json with ground truth.")
    ],
    model: Annotated[str, typer.Option("--model", help="Registry id (e.g. yolox-nano) or an ONNX path.")],
    model_path: Annotated[
        Path | None, typer.Option("--model-path", help="ONNX file for a registry id (skips the download).")
    ] = None,
    split: Annotated[str, typer.Option(help="Split key of data.yaml.")] = "val",
    class_map: Annotated[
        str | None,
        typer.Option(
            "--class-map",
            help="Raw model class → dataset class, e.g. 'Normal=person,Fall=person' ('Fall=' drops Fall); "
            "replaces the registry's map.",
        ),
    ] = None,
    dataset_class_map: Annotated[
        str | None,
        typer.Option("--dataset-class-map", help="Rename dataset classes, e.g. 'pedestrian=person'."),
    ] = None,
    classes: Annotated[
        str | None,
        typer.Option("--classes", help="Comma-separated classes to score (default: all in common)."),
    ] = None,
    conf: Annotated[float, typer.Option(min=0.0, max=1.0, help="Operating confidence for P/R.")] = 0.25,
    limit: Annotated[int | None, typer.Option(min=1, help="Score only the first N images.")] = None,
    providers: Annotated[
        str | None, typer.Option(help="onnxruntime providers, e.g. 'cpu' or 'cuda,cpu'.")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="onnxruntime intra-op threads.")] = None,
    flip_tta: Annotated[
        bool,
        typer.Option(
            "--flip-tta", help="Run on each image and its mirror, fuse the boxes (as the smoking stage does)."
        ),
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="Folder for JSON, Markdown and PR-curve PNG.")] = Path(
        "eval-results"
    ),
) -> None:
    """mAP50, mAP50-95, precision and recall per class, PR curves and speed of a detector on a dataset."""
    from datasets.formats import load_dataset, parse_class_map
    from evaluation.detect_eval import AP_CONF, run_detect_eval, write_outputs
    from vision.detectors import load_detector, load_flip_tta

    dataset = load_dataset(data, split)
    if dataset_class_map:
        dataset = dataset.renamed(parse_class_map(dataset_class_map))
    if limit:
        dataset = dataset.head(limit)
    detector = (load_flip_tta if flip_tta else load_detector)(
        str(model),
        path=model_path,
        providers=providers.split(",") if providers else None,
        threads=threads,
        conf=AP_CONF,
        **({"class_map": _drop_map(class_map)} if class_map else {}),
    )
    info = detector.model_info.model_dump()
    info["providers"] = list(detector.providers)
    info["flip_tta"] = flip_tta
    result = run_detect_eval(
        dataset,
        detector,
        model=Path(model).name if str(model).endswith(".onnx") else model,
        conf=conf,
        classes=[c.strip() for c in classes.split(",")] if classes else None,
        model_info=info,
    )
    parts = [
        "detect",
        Path(model).stem,
        Path(data).resolve().parent.name,
        *([class_map] if class_map else []),
        *(["flip"] if flip_tta else []),
    ]
    result = write_outputs(result, out, _stem(*parts, *(classes.split(",") if classes else [])))
    o = result.report.overall
    r = result.report
    typer.echo(
        f"{result.model}: {r.images} images, {o.boxes} boxes, {len(r.classes)} classes | "
        f"mAP50 {o.ap50:.3f}  mAP50-95 {o.ap50_95:.3f}  P {o.precision:.3f}  R {o.recall:.3f} @conf {conf} | "
        f"{result.ms_per_image[0]:.1f} ms/image"
    )
    for f in result.files:
        typer.echo(f"wrote {f}")


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="data.yaml (YOLO) or .json (COCO).")],
    dst: Annotated[Path, typer.Argument(help="A .json file (→ COCO) or a folder (→ YOLO).")],
    split: Annotated[str, typer.Option(help="Split key of data.yaml to read, or to write.")] = "val",
) -> None:
    """Convert a box dataset between ultralytics YOLO and COCO JSON (images are referenced, not copied)."""
    from datasets.formats import load_dataset, write_coco, write_yolo

    dataset = load_dataset(src, split)
    written = write_coco(dataset, dst) if dst.suffix.lower() == ".json" else write_yolo(dataset, dst, split)
    typer.echo(f"{len(dataset.images)} images, {dataset.box_count} boxes → {written}")


@app.command()
def events(
    clips: Annotated[
        list[Path],
        typer.Option("--clips", help="Annotation YAML files (repeat, or a shell glob after one flag)."),
    ],
    extra: Annotated[list[Path] | None, typer.Argument(help="More annotation files (shell glob).")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Detector for real clips (default: each camera's model).")
    ] = None,
    model_path: Annotated[
        Path | None, typer.Option("--model-path", help="Local ONNX for a registry id.")
    ] = None,
    class_map: Annotated[
        str | None,
        typer.Option(
            "--class-map",
            help="Raw model class → pipeline class for real clips, e.g. 'Normal=person,Fall=' ('Fall=' drops "
            "Fall); replaces the registry's map.",
        ),
    ] = None,
    time_slack: Annotated[
        float, typer.Option(min=0.0, help="Seconds each span is widened when matching.")
    ] = 1.0,
    min_box_iou: Annotated[float, typer.Option(min=0.0, max=1.0, help="Offender box overlap needed.")] = 0.2,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for events.json/.md and per-clip evidence.")
    ] = Path("eval-results/events"),
    reuse: Annotated[
        bool, typer.Option(help="Re-score the records of a previous run in --out (no pipeline run).")
    ] = False,
) -> None:
    """Run the pipeline on annotated clips; precision, recall and F1 per violation type, with FP/FN lists."""
    from evaluation.event_eval import run_event_eval
    from evaluation.events import MatchConfig
    from evaluation.synthetic import DETECTORS
    from vision.detectors import load_detector
    from vision.scene import load_camera_config

    loaded: dict[tuple[str, str, bool], object] = {}
    mapping = _drop_map(class_map) if class_map else None

    def detector_for(clip):
        if clip.annotation.detector:
            if clip.annotation.detector not in DETECTORS:
                raise UserError(
                    f"{clip.path}: unknown detector {clip.annotation.detector!r}; known: {list(DETECTORS)}"
                )
            return DETECTORS[clip.annotation.detector]()
        camera = load_camera_config(clip.camera_path) if clip.camera_path else None
        name = model or (
            str(camera.model_path) if camera and camera.model_path else camera.model if camera else "default"
        )
        rect = camera.detector.rect if camera else True
        key = (name, str(model_path), rect)
        if key not in loaded:
            loaded[key] = load_detector(
                name, path=model_path, rect=rect, **({"class_map": mapping} if class_map else {})
            )
        return loaded[key]

    paths = [*clips, *(extra or [])]
    results, report, files = run_event_eval(
        paths,
        detector_for,
        out,
        model=(model or "camera default") + (f", class map {class_map}" if class_map else ""),
        match=MatchConfig(time_slack_s=time_slack, min_box_iou=min_box_iou),
        reuse=reuse,
    )
    for t, s in report["totals"].items():
        p, r, f1 = (("n/a" if v is None else f"{v:.2f}") for v in (s["precision"], s["recall"], s["f1"]))
        typer.echo(f"{t}: TP {s['tp']} FP {s['fp']} FN {s['fn']} | precision {p} recall {r} F1 {f1}")
    for f in files:
        typer.echo(f"wrote {f}")
