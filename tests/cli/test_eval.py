"""`autofine eval …` and `autofine bench` run as a user runs them: help, conversion, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

VTEST_EVENTS = Path(__file__).resolve().parents[2] / "datasets" / "events" / "vtest.yaml"


def autofine(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from autofine.cli import main; main()", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["eval", "--help"], "events"),
        (["eval", "detect", "--help"], "--dataset-class-map"),
        (["eval", "events", "--help"], "--clips"),
        (["eval", "convert", "--help"], "COCO"),
        (["bench", "--help"], "--max-cameras"),
    ],
)
def test_help(args: list[str], expected: str) -> None:
    result = autofine(*args)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_convert_yolo_to_coco(shared_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "coco.json"
    result = autofine("eval", "convert", shared_dir / "datasets" / "litter" / "data.yaml", out)
    assert result.returncode == 0, result.stderr
    assert "90 images, 433 boxes" in result.stdout
    coco = json.loads(out.read_text())
    assert len(coco["images"]) == 90 and len(coco["annotations"]) == 433 and len(coco["categories"]) == 6


def test_bad_dataset_is_one_red_line(tmp_path: Path) -> None:
    result = autofine("eval", "detect", "--data", tmp_path / "nope.yaml", "--model", "yolox-nano")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not found" in result.stderr


def test_missing_annotation_is_one_red_line(tmp_path: Path) -> None:
    result = autofine("eval", "events", "--clips", tmp_path / "nope.yaml", "--out", tmp_path / "out")
    assert result.returncode == 2 and "not found" in result.stderr


def test_events_class_map_with_an_unknown_class_is_one_red_line(tmp_path: Path) -> None:
    result = autofine(
        "eval",
        "events",
        "--clips",
        VTEST_EVENTS,
        "--model",
        "fall-yolov8s-int8",
        "--class-map",
        "Lying=person",
        "--out",
        tmp_path / "out",
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Lying" in result.stderr


@pytest.mark.slow
def test_events_class_map_replaces_the_registry_map(vtest_path: Path, tmp_path: Path) -> None:
    """Keeping only `Fall` leaves the walkers of vtest undetected: no jaywalking found, all 11 missed (with
    the registry's map the same run finds 9 of them, benchmarks/results/fall_mapping.md)."""
    out = tmp_path / "out"
    result = autofine(
        "eval",
        "events",
        "--clips",
        VTEST_EVENTS,
        "--model",
        "fall-yolov8s-int8",
        "--class-map",
        "Normal=,Fall=person",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "events.json").read_text())
    assert "class map Normal=,Fall=person" in report["model"]
    jaywalking = report["totals"]["jaywalking"]
    assert (jaywalking["tp"], jaywalking["fn"]) == (0, 11), jaywalking


def test_detect_with_flip_tta_scores_and_labels_its_own_files(shared_dir: Path, tmp_path: Path) -> None:
    data = shared_dir / "datasets" / "cigarettes" / "data.yaml"
    common = ["eval", "detect", "--data", data, "--model", "cigarette", "--limit", "20", "--out", tmp_path]
    for extra in ([], ["--flip-tta"]):
        result = autofine(*common, *extra)
        assert result.returncode == 0, result.stderr
    one = json.loads((tmp_path / "detect_cigarette_cigarettes.json").read_text())
    flip = json.loads((tmp_path / "detect_cigarette_cigarettes_flip.json").read_text())
    assert (one["model_info"]["flip_tta"], flip["model_info"]["flip_tta"]) == (False, True)
    assert one["overall"]["boxes"] == flip["overall"]["boxes"] >= 20  # the same boxes compared
    assert flip["overall"]["tp"] >= 15  # the fused boxes still land on the cigarettes
    assert one["overall"]["ap50"] != flip["overall"]["ap50"]  # a second view changed the scores
    assert "flip test-time augmentation" in (tmp_path / "detect_cigarette_cigarettes_flip.md").read_text()
