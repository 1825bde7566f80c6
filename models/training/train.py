"""Train the cigarette or litter detector with ultralytics from the offline bootstrap, resumable.

`autofine models train cigarette --data ../shared/datasets/cigarettes/data.yaml --epochs 30 --imgsz 320
--freeze 10` runs this; `python -m models.training.train ...` does the same without the CLI (background jobs).
Runs live outside the repo (`$AUTOFINE_RUNS_DIR`, default `~/autofine-runs`); only the exported ONNX is
committed.
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from autofine.errors import UserError
from datasets.formats import read_yolo_spec, yolo_split_folder

MODEL_KINDS = ("cigarette", "litter")
# how the run's checkpoint is chosen: ultralytics' best.pt (its fitness is mAP50-95), or the epoch with the
# highest valid mAP50 (the number our targets are set in; needs a checkpoint per epoch)
SELECT_BY = {"map50-95": None, "map50": "metrics/mAP50(B)"}


@dataclass(frozen=True)
class TrainResult:
    kind: str
    run_dir: Path
    best: Path


def default_runs_dir() -> Path:
    return Path(os.environ.get("AUTOFINE_RUNS_DIR", Path.home() / "autofine-runs"))


def dataset_names(data: Path) -> dict[int, str]:
    return read_yolo_spec(data).names  # a bad --data fails here, with the fix in the message


def train_images_dir(data: Path) -> Path:
    """The training images folder a YOLO data.yaml names (`path:` + `train:`, relative to the yaml)."""
    return yolo_split_folder(read_yolo_spec(data), "train")


def bootstrap_checkpoint(kind: str, data: Path, imgsz: int, runs_dir: Path, onnx_path: Path | None) -> Path:
    """Build (once) the calibrated bootstrap for this dataset; see `bootstrap.py`."""
    from models.training import bootstrap

    out = runs_dir / "bootstrap" / f"{kind}_bootstrap_{imgsz}.pt"
    if out.exists():
        return out
    onnx_path = onnx_path or bootstrap.fall_onnx()
    images = bootstrap.calibration_images(train_images_dir(data), count=64)
    checkpoint, difference = bootstrap.build_bootstrap(onnx_path, dataset_names(data), images, imgsz, out)
    print(f"bootstrap: {checkpoint} (PyTorch vs ONNX max diff {difference:.2g})")
    return checkpoint


def train(
    kind: str,
    data: Path,
    *,
    epochs: int = 30,
    imgsz: int = 320,
    batch: int = 16,
    freeze: int | None = 10,
    hours: float | None = None,
    resume: bool = False,
    runs_dir: Path | None = None,
    bootstrap_onnx: Path | None = None,
    base_weights: str | None = None,
    device: str = "cpu",
    workers: int = 2,
    lr0: float | None = None,
    cos_lr: bool = False,
    close_mosaic: int = 10,
    select_by: str = "map50-95",
) -> TrainResult:
    """Train `kind` on `data`; `base_weights` (e.g. `yolo11n.pt`, online) skips the offline bootstrap."""
    if kind not in MODEL_KINDS:
        raise UserError(f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    if select_by not in SELECT_BY:
        raise UserError(f"unknown --select-by {select_by!r}; choose one of {', '.join(SELECT_BY)}")
    dataset_names(data)  # a bad --data fails here, before anything slow
    from models.training.offline import prepare_offline_ultralytics

    prepare_offline_ultralytics()
    try:
        from ultralytics import YOLO
    except ImportError:
        raise UserError("training needs the train extra: pip install 'autofine[train]'") from None

    runs_dir = (runs_dir or default_runs_dir()).resolve()
    run_dir = runs_dir / kind
    last = run_dir / "weights" / "last.pt"
    if resume and not last.exists():
        raise UserError(f"nothing to resume: {last} does not exist; start without --resume")
    state = _checkpoint(last) if resume else {}
    if resume and _resumable(state):
        saved = state.get("train_args") or {}
        if SELECT_BY[select_by] and int(saved.get("save_period", -1)) < 1:
            raise UserError(
                f"{last} was started without --select-by map50 (no checkpoint per epoch to choose from); "
                "resume it without --select-by, or start a new run with it"
            )
        print(f"{last} is an interrupted run: it resumes with its own settings (rate, workers, hours)")
        YOLO(str(last)).train(resume=True)
    else:
        data = data.resolve()
        extra: dict[str, float | str | bool] = {"time": hours} if hours else {}
        if SELECT_BY[select_by]:
            extra["save_period"] = 1  # one checkpoint per epoch to choose from afterwards
        if lr0 is not None:  # ultralytics' own choice (AdamW 0.002 for one class) can undo trained weights
            extra.update(optimizer="AdamW", lr0=lr0, warmup_bias_lr=lr0)
        if resume:  # a run that finished (epochs or --hours) keeps weights only: go on from them
            print(f"{last} is a finished run (no optimizer state): training {epochs} more epochs from it")
            base_weights = str(last)
        if resume or lr0 is not None:
            # trained weights need no 3-epoch warm-up: its bias learning rate starting at 0.1 cost the litter
            # model 0.04 mAP50 in the first epoch of a continued run
            extra["warmup_epochs"] = 1.0
        weights = base_weights or str(bootstrap_checkpoint(kind, data, imgsz, runs_dir, bootstrap_onnx))
        YOLO(weights).train(
            data=str(data),
            epochs=epochs,
            imgsz=imgsz,
            batch=batch,
            freeze=freeze,
            project=str(runs_dir),
            name=kind,
            exist_ok=True,
            device=device,
            workers=workers,
            cache="ram",
            plots=False,
            patience=100,
            seed=0,
            cos_lr=cos_lr,
            close_mosaic=close_mosaic,
            **extra,
        )
    metric = SELECT_BY[select_by]
    if metric:
        return TrainResult(kind=kind, run_dir=run_dir, best=keep_best_epoch(run_dir, metric))
    best = run_dir / "weights" / "best.pt"
    if not best.exists():
        raise UserError(f"training finished without {best}; see the log above")
    return TrainResult(kind=kind, run_dir=run_dir, best=best)


def best_epoch(results_csv: Path, metric: str) -> tuple[int, float]:
    """(epoch, value) of the results.csv row with the highest `metric`; ultralytics counts epochs from 1."""
    import csv

    if not results_csv.is_file():
        raise UserError(f"{results_csv} not found: the run wrote no per-epoch results; train again")
    with results_csv.open(newline="") as handle:
        rows = [{key.strip(): value for key, value in row.items()} for row in csv.DictReader(handle)]
    if not rows or metric not in rows[0]:
        raise UserError(f"{results_csv} has no {metric!r} column; was the run validated each epoch?")
    best = max(rows, key=lambda row: float(row[metric]))
    return int(float(best["epoch"])), float(best[metric])


def keep_best_epoch(run_dir: Path, metric: str) -> Path:
    """Copy the epoch with the highest `metric` to weights/best_<metric>.pt without its optimizer state, and
    delete the per-epoch files (tens of MB each)."""
    from ultralytics.utils.torch_utils import strip_optimizer

    epoch, value = best_epoch(run_dir / "results.csv", metric)
    weights = run_dir / "weights"
    source = weights / f"epoch{epoch - 1}.pt"  # ultralytics names them from 0, results.csv counts from 1
    if not source.exists():
        raise UserError(
            f"{source} (epoch {epoch}, {metric} {value:.3f}) is missing; train with --select-by map50"
        )
    chosen = weights / f"best_{metric.split('/')[-1].split('(')[0]}.pt"
    shutil.copyfile(source, chosen)
    strip_optimizer(str(chosen))
    for per_epoch in weights.glob("epoch*.pt"):
        per_epoch.unlink()
    print(f"chose epoch {epoch} ({metric} {value:.3f}) → {chosen}")
    return chosen


def _checkpoint(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def _resumable(state: dict) -> bool:
    """True for an interrupted ultralytics run; a finished one has its optimizer state stripped."""
    return state.get("optimizer") is not None and state.get("epoch", -1) >= 0


def export_trained(result: TrainResult, imgsz: int, models_dir: Path | None = None) -> tuple[Path, str]:
    """Export the best checkpoint to `models/<kind>.onnx` and record its sha256 in the registry entry."""
    from autofine.hashing import sha256_file
    from models.registry import MODELS_DIR
    from models.training.export import export_onnx

    out = (models_dir or MODELS_DIR) / f"{result.kind}.onnx"
    # dynamic: the two-stage crops are rarely square; with the detector's rect letterbox a 150×90 upper body
    # runs at 256×416 instead of 416×416 (49 instead of 78 ms on one thread, the same valid mAP)
    export_onnx(
        result.best,
        out,
        imgsz,
        {"autofine_model": result.kind, "trained_from": result.best.name},
        dynamic=True,
    )
    digest = sha256_file(out)
    if out.stat().st_size > 25 * 1024 * 1024:
        raise UserError(f"{out} is {out.stat().st_size / 2**20:.1f} MB, over the 25 MB the repository allows")
    record_sha256(result.kind, digest)
    return out, digest


def record_sha256(model_id: str, digest: str, registry_file: Path | None = None) -> bool:
    """Replace the `sha256:` line of `model_id`'s block in registry.yaml (comments kept). False if absent."""
    import re

    from models.registry import REGISTRY_FILE

    registry_file = registry_file or REGISTRY_FILE
    text = registry_file.read_text()
    block = re.search(rf"(?ms)^{re.escape(model_id)}:\n(.*?)(?=^\S|\Z)", text)
    if block is None or not re.search(r"(?m)^  sha256: [0-9a-f]{64}$", block.group(1)):
        print(f"registry: no {model_id!r} entry with a sha256 line; add one with sha256 {digest}")
        return False
    new_block = re.sub(r"(?m)^  sha256: [0-9a-f]{64}$", f"  sha256: {digest}", block.group(1), count=1)
    registry_file.write_text(text[: block.start(1)] + new_block + text[block.end(1) :])
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=MODEL_KINDS)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--freeze", type=int, default=10)
    parser.add_argument("--hours", type=float, default=None)
    parser.add_argument("--lr0", type=float, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cos-lr", action="store_true")
    parser.add_argument("--close-mosaic", type=int, default=10)
    parser.add_argument("--select-by", choices=tuple(SELECT_BY), default="map50-95")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--runs-dir", type=Path, default=None)
    parser.add_argument("--bootstrap-onnx", type=Path, default=None)
    parser.add_argument("--no-export", action="store_true", help="train only; skip the ONNX export")
    args = parser.parse_args(argv)
    try:
        _train_and_export(args)
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None


def _train_and_export(args: argparse.Namespace) -> None:
    result = train(
        args.kind,
        args.data,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        freeze=args.freeze or None,
        hours=args.hours,
        lr0=args.lr0,
        device=args.device,
        workers=args.workers,
        cos_lr=args.cos_lr,
        close_mosaic=args.close_mosaic,
        select_by=args.select_by,
        resume=args.resume,
        runs_dir=args.runs_dir,
        bootstrap_onnx=args.bootstrap_onnx,
    )
    print(f"best checkpoint: {result.best}")
    if not args.no_export:
        out, digest = export_trained(result, args.imgsz)
        print(f"exported {out} (sha256 {digest})")


if __name__ == "__main__":
    main()
