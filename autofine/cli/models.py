"""`autofine models list|fetch|export`: the model registry from the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Column, Table

app = typer.Typer(help="Model registry: list, fetch and export detectors.", no_args_is_help=True)


@app.command("list")
def list_models() -> None:
    """Registered models: family, classes, input size, licence, and whether each is ready to run here."""
    from models.registry import cached, entries

    table = Table("family", "classes", "input", "licence", "obtained by", "cached")
    table.columns.insert(0, Column("id", no_wrap=True))
    for entry in entries().values():
        names = entry.class_names
        classes = ", ".join(names) if len(names) <= 4 else f"{len(names)} (COCO)"
        if entry.class_map:
            classes += " → " + ", ".join(sorted({v for v in entry.class_map.values() if v}))
        found = cached(entry)
        table.add_row(
            entry.id,
            entry.family,
            classes,
            "x".join(map(str, entry.input_size)),
            entry.licence,
            entry.obtain.method,
            "yes" if found else "no",
        )
    Console().print(table)
    Console().print("Models that are not cached are fetched on first use; details: models/cards/<id>.md")


@app.command("fetch")
def fetch(
    model_id: str = typer.Argument(..., help="Registry id, e.g. fall-yolov8s or yolox-nano."),
    from_file: Path | None = typer.Option(
        None, "--from", help="Use this local .onnx instead of downloading (its own sha256 is recorded)."
    ),
) -> None:
    """Obtain a model into the cache (download, or copy a local file), verify it, print its path."""
    from autofine.cli._logs import show_autofine_logs
    from models.registry import add_local_file, obtain
    from vision.detectors import load_detector

    show_autofine_logs()
    obtained = add_local_file(model_id, from_file) if from_file else obtain(model_id)
    load_detector(model_id)  # proves it loads: metadata, classes, input shape
    typer.echo(f"{obtained.path} sha256 {obtained.sha256}")


@app.command("export")
def export(
    source: str = typer.Argument(
        ..., help="Ultralytics weights (.pt, e.g. yolo11n.pt) or architecture (.yaml)."
    ),
    imgsz: int = typer.Option(640, "--imgsz", min=32, help="Export input size (square)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output .onnx path (default: ./<name>.onnx)."),
    dynamic: bool = typer.Option(
        False, "--dynamic", help="Dynamic batch axis (batched inference in one run)."
    ),
) -> None:
    """Export an ultralytics model to ONNX with metadata (needs the train extra; downloads need internet)."""
    from autofine.hashing import sha256_file
    from models.registry import export_onnx
    from vision.detectors import load_detector

    path = export_onnx(source, imgsz=imgsz, out=out, dynamic=dynamic)
    detector = load_detector(path)
    typer.echo(f"{path} sha256 {sha256_file(path)} classes {len(detector.names)} input {detector.input_size}")


@app.command("train")
def train(
    kind: str = typer.Argument(..., help="Which model: cigarette or litter."),
    data: Path = typer.Option(
        ..., "--data", help="YOLO data.yaml, e.g. ../shared/datasets/cigarettes/data.yaml."
    ),
    epochs: int = typer.Option(30, "--epochs", min=1, help="Epochs (an upper bound when --hours is given)."),
    imgsz: int = typer.Option(320, "--imgsz", min=64, help="Training and export input size (square)."),
    batch: int = typer.Option(16, "--batch", min=1, help="Images per batch."),
    freeze: int = typer.Option(
        10, "--freeze", min=0, help="Freeze the first N layers (10 = backbone; 0 = none)."
    ),
    hours: float | None = typer.Option(
        None, "--hours", min=0.01, help="Stop after this many hours (ultralytics)."
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue from the run's last.pt: an interrupted run resumes; a finished one trains --epochs "
        "(or --hours) more from its weights.",
    ),
    runs_dir: Path | None = typer.Option(
        None, "--runs-dir", help="Where runs go [default: $AUTOFINE_RUNS_DIR or ~/autofine-runs]."
    ),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="Start from these ultralytics weights (e.g. yolo11n.pt, online) instead of the "
        "offline bootstrap from the fall model.",
    ),
    device: str = typer.Option("cpu", "--device", help="Torch device: cpu, 0 (first GPU), ..."),
    lr0: float | None = typer.Option(
        None,
        "--lr0",
        min=1e-6,
        help="AdamW learning rate; default: ultralytics picks (0.002 for one class, too high to go on "
        "from trained weights with the whole network unfrozen).",
    ),
    workers: int = typer.Option(
        2, "--workers", min=0, help="Data-loading processes (about cores/2 on a GPU box)."
    ),
    cos_lr: bool = typer.Option(False, "--cos-lr", help="Cosine learning-rate decay instead of linear."),
    close_mosaic: int = typer.Option(
        10, "--close-mosaic", min=0, help="Train the last N epochs without mosaic augmentation."
    ),
    select_by: str = typer.Option(
        "map50-95",
        "--select-by",
        help="Which epoch to keep: map50-95 (ultralytics' best.pt) or map50 (highest valid mAP50; keeps a "
        "checkpoint per epoch while training).",
    ),
    export: bool = typer.Option(True, "--export/--no-export", help="Export models/<kind>.onnx afterwards."),
) -> None:
    """Train the cigarette or litter detector (ultralytics), export ONNX with metadata, record its sha256."""
    from models.training.train import export_trained
    from models.training.train import train as run_training

    result = run_training(
        kind,
        data,
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        freeze=freeze or None,
        hours=hours,
        resume=resume,
        runs_dir=runs_dir,
        base_weights=weights,
        device=device,
        workers=workers,
        lr0=lr0,
        cos_lr=cos_lr,
        close_mosaic=close_mosaic,
        select_by=select_by,
    )
    typer.echo(f"best checkpoint: {result.best}")
    if export:
        out, digest = export_trained(result, imgsz)
        typer.echo(f"{out} sha256 {digest}; evaluate: autofine eval detect --data {data} --model {out}")
