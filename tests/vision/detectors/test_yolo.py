"""Ultralytics-family decoding on a real ONNX file with a canned (hand-made) output."""

import numpy as np
import pytest

from autofine.errors import UserError
from tests.onnx_factory import constant_model, ultralytics_metadata
from vision.detectors import load_detector

NAMES = {0: "Normal", 1: "Fall"}


def canned_output() -> np.ndarray:
    """(1, 4+nc, N) in 64×64 input pixels: columns are anchors, rows cx, cy, w, h, score per class."""
    anchors = [
        (32, 32, 20, 20, 0.90, 0.00),  # Normal → xyxy (22, 22, 42, 42)
        (33, 32, 20, 20, 0.80, 0.00),  # same place, same class, lower score: suppressed
        (32, 32, 20, 20, 0.00, 0.70),  # same place, other class: kept unless the classes are merged
        (10, 50, 8, 12, 0.00, 0.60),  # Fall → xyxy (6, 44, 14, 56)
        (50, 10, 8, 8, 0.20, 0.10),  # below conf 0.25
    ]
    return np.array(anchors, dtype=np.float32).T[None]


@pytest.fixture
def canned_yolo(tmp_path):
    return constant_model(tmp_path / "canned.onnx", canned_output(), metadata=ultralytics_metadata(NAMES))


def test_decode_nms_and_box_mapping_are_exact(canned_yolo):
    detector = load_detector(canned_yolo, conf=0.25, iou=0.45)
    assert detector.names == NAMES and detector.input_size == (64, 64)
    image = np.zeros((96, 128, 3), dtype=np.uint8)  # letterboxed at scale 0.5 with 8 px on top
    found = detector.detect(image)
    assert found.class_name.tolist() == ["Normal", "Fall", "Fall"]
    np.testing.assert_allclose(found.confidence, [0.9, 0.7, 0.6], rtol=1e-6)
    np.testing.assert_array_equal(found.xyxy, [[44, 28, 84, 68], [44, 28, 84, 68], [12, 72, 28, 96]])


def test_class_map_merges_classes_before_nms_and_keeps_the_raw_name(canned_yolo):
    detector = load_detector(canned_yolo, class_map={"Normal": "person", "Fall": "person"})
    assert detector.names == {0: "person"}
    found = detector.detect(np.zeros((96, 128, 3), dtype=np.uint8))
    assert found.class_name.tolist() == ["person", "person"]
    assert found.data["raw_class_name"].tolist() == ["Normal", "Fall"]
    assert found.class_id.tolist() == [0, 0]


def test_class_map_can_drop_a_class(canned_yolo):
    detector = load_detector(canned_yolo, class_map={"Fall": None})
    found = detector.detect(np.zeros((96, 128, 3), dtype=np.uint8))
    assert found.class_name.tolist() == ["Normal"]


def test_a_class_map_naming_a_missing_class_is_refused(canned_yolo):
    with pytest.raises(UserError, match="does not have"):
        load_detector(canned_yolo, class_map={"Bicycle": "person"})


def test_fixed_batch_of_one_runs_a_batch_frame_by_frame(canned_yolo):
    detector = load_detector(canned_yolo)
    sizes = [(96, 128), (64, 64), (200, 100)]
    results = detector.detect_batch([np.zeros((h, w, 3), dtype=np.uint8) for h, w in sizes])
    assert [len(r) for r in results] == [3, 3, 3]
    assert results[1].xyxy[0].tolist() == [22, 22, 42, 42]  # 64×64 needs no letterbox


def test_a_model_without_metadata_is_refused_with_a_clear_error(tmp_path):
    path = constant_model(tmp_path / "bare.onnx", canned_output())
    with pytest.raises(UserError, match="no ultralytics metadata"):
        load_detector(path)


def test_metadata_that_does_not_fit_the_output_is_refused(tmp_path):
    path = constant_model(
        tmp_path / "wrong.onnx", canned_output(), metadata=ultralytics_metadata({0: "a", 1: "b", 2: "c"})
    )
    with pytest.raises(UserError, match="does not fit a detect model with 3 classes"):
        load_detector(path)
