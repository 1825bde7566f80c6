"""`--select-by map50`: a tiny real ultralytics run keeps a checkpoint per epoch, then only the best."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from autofine.errors import UserError
from models.training.train import best_epoch

MAP50 = "metrics/mAP50(B)"


def write_results(path: Path, map50: list[float]) -> Path:
    # the column names carry the padding ultralytics writes
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["                  epoch", "     metrics/mAP50(B)", "  metrics/mAP50-95(B)"])
        for epoch, value in enumerate(map50, start=1):
            writer.writerow([epoch, value, value / 2])
    return path


def test_best_epoch_is_the_row_with_the_highest_metric(tmp_path: Path) -> None:
    results = write_results(tmp_path / "results.csv", [0.61, 0.79, 0.82, 0.80])
    assert best_epoch(results, MAP50) == (3, 0.82)
    assert best_epoch(results, "metrics/mAP50-95(B)") == (3, 0.41)


def test_best_epoch_names_a_missing_file_or_column(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="results.csv not found"):
        best_epoch(tmp_path / "results.csv", MAP50)
    results = write_results(tmp_path / "results.csv", [0.5])
    with pytest.raises(UserError, match="no 'metrics/recall"):
        best_epoch(results, "metrics/recall(B)")


@pytest.mark.train
def test_keep_best_epoch_copies_the_file_of_the_best_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ultralytics")
    from ultralytics.utils import torch_utils

    from models.training.train import keep_best_epoch

    stripped: list[str] = []
    monkeypatch.setattr(torch_utils, "strip_optimizer", stripped.append)
    write_results(tmp_path / "results.csv", [0.61, 0.79, 0.74])  # epoch 2 is best → ultralytics' epoch1.pt
    (tmp_path / "weights").mkdir()
    for index in range(3):
        (tmp_path / "weights" / f"epoch{index}.pt").write_text(f"file {index}")
    chosen = keep_best_epoch(tmp_path, MAP50)
    assert chosen == tmp_path / "weights" / "best_mAP50.pt"
    assert chosen.read_text() == "file 1" and stripped == [str(chosen)]
    assert not list((tmp_path / "weights").glob("epoch*.pt"))


@pytest.mark.train
def test_training_with_select_by_map50_keeps_the_best_epoch_only(tmp_path: Path, shared_dir: Path) -> None:
    pytest.importorskip("ultralytics")
    import torch

    from models.training.train import train

    source = shared_dir / "datasets" / "cigarettes"
    for split in ("train", "valid"):  # 6 labelled photos per split keep two CPU epochs to seconds
        labels = sorted(p for p in (source / "labels" / split).glob("*.txt") if p.stat().st_size)[:6]
        for label in labels:
            for kind, suffix in (("labels", ".txt"), ("images", ".jpg")):
                (tmp_path / kind / split).mkdir(parents=True, exist_ok=True)
                shutil.copy(source / kind / split / f"{label.stem}{suffix}", tmp_path / kind / split)
    data = tmp_path / "data.yaml"
    data.write_text("train: images/train\nval: images/valid\nnames:\n  0: cigarette\n")

    result = train(
        "cigarette",
        data,
        epochs=2,
        imgsz=64,
        batch=2,
        freeze=None,
        base_weights="yolov8n.yaml",  # built from its yaml: no download, no bootstrap
        runs_dir=tmp_path / "runs",
        workers=0,
        select_by="map50",
    )

    epoch, _ = best_epoch(result.run_dir / "results.csv", MAP50)
    rows = list(csv.DictReader((result.run_dir / "results.csv").open()))
    assert len(rows) == 2 and 1 <= epoch <= 2
    assert result.best.name == "best_mAP50.pt" and result.best.exists()
    assert not list((result.run_dir / "weights").glob("epoch*.pt"))  # per-epoch files removed
    checkpoint = torch.load(result.best, map_location="cpu", weights_only=False)
    assert checkpoint["optimizer"] is None and checkpoint["epoch"] == -1  # stripped: ready to export


@pytest.mark.train
def test_resuming_a_run_without_per_epoch_files_refuses_select_by_map50_before_training(
    tmp_path: Path,
) -> None:
    pytest.importorskip("ultralytics")
    import torch

    from models.training.train import train

    data = tmp_path / "data.yaml"
    data.write_text("train: images/train\nval: images/valid\nnames:\n  0: cigarette\n")
    last = tmp_path / "runs" / "cigarette" / "weights" / "last.pt"
    last.parent.mkdir(parents=True)
    # an interrupted run (optimizer state kept) that was started with ultralytics' default save_period
    torch.save({"optimizer": {"state": {}}, "epoch": 3, "train_args": {"save_period": -1}}, last)
    with pytest.raises(UserError, match="started without --select-by map50.*start a new run"):
        train("cigarette", data, resume=True, select_by="map50", runs_dir=tmp_path / "runs")
