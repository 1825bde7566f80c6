"""YOLOX decoding: canned grid outputs (exact), and the real YOLOX-Nano on real vtest frames."""

import numpy as np
import pytest

from tests.onnx_factory import constant_model
from vision.detectors import load_detector
from vision.detectors.coco import COCO80
from vision.detectors.yolox import grid_and_strides


def test_grid_follows_yoloxs_flattening_order():
    grid, strides = grid_and_strides(64, 64)
    assert len(grid) == 64 + 16 + 4
    assert grid[19].tolist() == [3, 2] and strides[19, 0] == 8  # row 2, column 3 of the stride-8 head
    assert grid[64 + 5].tolist() == [1, 1] and strides[64 + 5, 0] == 16
    assert grid[-1].tolist() == [1, 1] and strides[-1, 0] == 32


def test_decode_and_box_mapping_are_exact(tmp_path):
    output = np.zeros((1, 84, 85), dtype=np.float32)
    # anchor 19 = stride 8, cell (3, 2): centre (3.5, 2.5)·8 = (28, 20), size (2, 4)·8 → xyxy (20, 4, 36, 36)
    output[0, 19, :4] = [0.5, 0.5, np.log(2), np.log(4)]
    output[0, 19, 4] = 0.9  # objectness
    output[0, 19, 5 + 0] = 0.8  # person → score 0.72
    # anchor 83 = stride 32, cell (1, 1): centre 48, size 32 → xyxy (32, 32, 64, 64); bottle 0.5·0.6 = 0.3
    output[0, 83, :4] = [0.5, 0.5, 0, 0]
    output[0, 83, 4], output[0, 83, 5 + COCO80.index("bottle")] = 0.5, 0.6
    output[0, 50, 4], output[0, 50, 5] = 0.4, 0.5  # 0.2: below conf
    path = constant_model(tmp_path / "yolox.onnx", output, output_name="output")
    detector = load_detector(path, conf=0.25)  # recognised as YOLOX from its (1, N, 85) output
    assert type(detector).__name__ == "YoloxDetector" and detector.names[0] == "person"
    found = detector.detect(np.zeros((128, 128, 3), dtype=np.uint8))  # scale 0.5, no padding
    assert found.class_name.tolist() == ["person", "bottle"]
    np.testing.assert_allclose(found.confidence, [0.72, 0.3], rtol=1e-6)
    np.testing.assert_allclose(found.xyxy, [[40, 8, 72, 72], [64, 64, 128, 128]], rtol=1e-6)


@pytest.mark.slow
def test_yolox_nano_counts_people_on_real_vtest_frames(yolox_nano_path, vtest_people_frames):
    detector = load_detector("yolox-nano", path=yolox_nano_path, conf=0.4)
    assert detector.model_info.sha256.startswith("e8af0749")  # the local re-export's own hash is recorded
    assert detector.model_info.version.endswith("+local")
    compared = 0
    for index, (image, visible) in vtest_people_frames.items():
        people = int((detector.detect(image).class_name == "person").sum())
        # the blue sign at the top-left is a known false person, hence the + 2
        assert 4 <= people <= visible + 2, f"frame {index}: {people} people found, {visible} visible"
        compared += 1
    assert compared == 4
