"""YOLO ↔ COCO converters on the real coco128 labels, and class maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autofine.errors import UserError
from datasets.formats import load_coco, load_dataset, load_yolo, parse_class_map, write_coco, write_yolo


@pytest.fixture(scope="module")
def coco128(shared_dir: Path):
    return load_yolo(shared_dir / "datasets" / "coco128" / "data.yaml", "val")


def test_load_yolo_counts(coco128) -> None:
    assert len(coco128.images) == 128
    assert coco128.box_count == 929
    assert coco128.class_counts()["person"] == 254
    assert len(coco128.names) == 80
    first = coco128.images[0]
    assert first.path.name == "000000000009.jpg" and (first.width, first.height) == (640, 480)


def test_round_trip_yolo_coco_yolo(coco128, tmp_path: Path) -> None:
    coco = load_coco(write_coco(coco128, tmp_path / "gt.json"))  # file names relative to the JSON
    assert coco.names == coco128.names
    yolo = load_yolo(write_yolo(coco, tmp_path / "yolo"), "val")
    assert len(yolo.images) == len(coco128.images) == 128
    compared = 0
    for a, b in zip(coco128.images, yolo.images, strict=True):
        assert a.path.name == b.path.name and (a.width, a.height) == (b.width, b.height)
        assert b.path.resolve() == a.path.resolve()  # the symlink leads back to the original image
        np.testing.assert_array_equal(a.class_id, b.class_id)
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.01)  # 6 decimals of a normalised coordinate
        compared += len(a.xyxy)
    assert compared == 929


def test_renamed_merges_classes(coco128) -> None:
    merged = coco128.renamed({"car": "vehicle", "truck": "vehicle", "bus": "vehicle"})
    counts, before = merged.class_counts(), coco128.class_counts()
    assert counts["vehicle"] == before["car"] + before["truck"] + before["bus"] > 0
    assert len(merged.names) == 78 and merged.box_count == 929


def test_parse_class_map() -> None:
    assert parse_class_map("Normal=person, Fall=person") == {"Normal": "person", "Fall": "person"}
    assert parse_class_map("") == {}
    with pytest.raises(UserError, match="FROM=TO"):
        parse_class_map("person")


def test_bad_paths_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_dataset(tmp_path / "missing.yaml")
    with pytest.raises(UserError, match="expected"):
        load_dataset(tmp_path / "x.csv")
    (tmp_path / "d.yaml").write_text("val: images\n")
    with pytest.raises(UserError, match="names"):
        load_dataset(tmp_path / "d.yaml")
