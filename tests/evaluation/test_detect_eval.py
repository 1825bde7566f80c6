"""A small real `eval detect`: YOLOX-Nano on the first 20 coco128 images, person class."""

from __future__ import annotations

import json

import pytest

from datasets.formats import load_yolo
from evaluation.detect_eval import comparable_classes, run_detect_eval, write_outputs


@pytest.fixture(scope="module")
def result(shared_dir, yolox_nano_path):
    from vision.detectors import load_detector

    dataset = load_yolo(shared_dir / "datasets" / "coco128" / "data.yaml").head(20)
    detector = load_detector("yolox-nano", path=yolox_nano_path, conf=0.001)
    return run_detect_eval(dataset, detector, model="yolox-nano", conf=0.25, classes=["person"])


def test_person_ap_on_twenty_images_is_in_the_measured_band(result) -> None:
    r = result.report
    assert r.images == 20
    person = r.classes[0]
    # the first 20 images hold 22 person boxes in 6 images; measured 2026-11-25: AP50 0.540, AP50-95 0.288,
    # P 0.55, R 0.50 at conf 0.25 (deterministic; the band allows for onnxruntime builds)
    assert (person.boxes, person.images) == (22, 6)
    assert 0.45 <= person.ap50 <= 0.65
    assert 0.22 <= person.ap50_95 <= 0.36
    assert person.tp + person.fn == 22 and 8 <= person.tp <= 14


def test_outputs_are_written(result, tmp_path) -> None:
    written = write_outputs(result, tmp_path, "detect_test")
    names = sorted(p.name for p in written.files)
    assert names == ["detect_test.json", "detect_test.md", "detect_test_pr.png"]
    payload = json.loads((tmp_path / "detect_test.json").read_text())
    assert payload["classes"][0]["name"] == "person" and payload["images"] == 20
    assert "| person |" in (tmp_path / "detect_test.md").read_text()


def test_comparable_classes_needs_a_common_name(shared_dir) -> None:
    from autofine.errors import UserError

    dataset = load_yolo(shared_dir / "datasets" / "litter" / "data.yaml")
    assert comparable_classes(dataset, ["bottle", "person", "cup"], {}, None) == ["bottle", "cup"]
    with pytest.raises(UserError, match="no class in common"):
        comparable_classes(dataset, ["Normal", "Fall"], {}, None)
    with pytest.raises(UserError, match="not both"):
        comparable_classes(dataset, ["bottle"], {}, ["cup"])
