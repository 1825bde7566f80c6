"""`rect`: a model with a dynamic input size gets the frame padded only to the next stride multiple.

Uses the bundled `fall-yolov8s-int8` (dynamic batch and size) and the fixed-size float fall model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models import registry
from models.training.quantize import video_frames
from vision.detections import box_iou
from vision.detectors import load_detector


@pytest.fixture(scope="module")
def frames(vtest_path: Path) -> list[np.ndarray]:
    return video_frames(vtest_path, 4, start=200)


def test_a_dynamic_model_runs_a_4_3_frame_at_640x480_and_a_fixed_one_stays_square(fall_onnx_path: Path):
    rect = load_detector("fall-yolov8s-int8")
    assert rect.rect and rect.input_size_for(576, 768) == (640, 480)  # vtest is 768×576
    assert rect.input_size_for(720, 1280) == (640, 384)  # 360 rounded up to a multiple of 32
    assert rect.input_size_for(1080, 1080) == (640, 640)
    tensor, box = rect._preprocess(np.zeros((576, 768, 3), np.uint8))
    assert tensor.shape == (3, 480, 640) and (box.pad_x, box.pad_y) == (0, 0)

    square = load_detector("fall-yolov8s-int8", rect=False)
    assert not square.rect and square._preprocess(np.zeros((576, 768, 3), np.uint8))[0].shape == (3, 640, 640)
    fixed = load_detector("fall-yolov8s", path=fall_onnx_path)  # fixed 1×3×640×640: rect cannot apply
    assert not fixed.rect and fixed.input_size_for(576, 768) == (640, 640)


def test_rect_finds_the_same_people_as_square_padding(frames):
    rect, square = load_detector("fall-yolov8s-int8"), load_detector("fall-yolov8s-int8", rect=False)
    best_iou = []
    for frame in frames:
        a, b = rect.detect(frame), square.detect(frame)
        assert abs(len(a) - len(b)) <= 1
        if len(a) and len(b):
            best = box_iou(a.xyxy, b.xyxy).max(axis=1)
            assert (best > 0.5).sum() >= min(len(a), len(b)) - 1  # the same people
            best_iou.extend(best)
    assert len(best_iou) >= 20  # people compared over the 4 frames
    # the same boxes mostly; INT8 rounding differs with the input and close pairs may merge differently
    assert np.mean(np.array(best_iou) > 0.85) >= 0.7


def test_a_batch_of_two_frame_sizes_gives_each_frame_its_single_frame_result(frames):
    detector = load_detector("fall-yolov8s-int8")
    small = frames[1][::2, ::2].copy()  # 384×288: a second camera with another resolution
    batch = detector.detect_batch([frames[0], small, frames[2]])
    singles = [detector.detect(f) for f in (frames[0], small, frames[2])]
    assert sum(len(s) for s in singles) >= 10
    for got, want in zip(batch, singles, strict=True):
        assert len(got) == len(want)
        np.testing.assert_allclose(got.xyxy, want.xyxy, atol=1e-3)
        np.testing.assert_allclose(got.confidence, want.confidence, atol=1e-5)


def test_the_bundled_person_model_is_int8_registered_and_small():
    entry = registry.get_entry("fall-yolov8s-int8")
    detector = load_detector("fall-yolov8s-int8")
    path = registry.cached_path(entry)
    assert path.parent == registry.MODELS_DIR and path.stat().st_size <= 25 * 1024 * 1024
    assert detector.model_info.sha256 == entry.sha256
    assert list(detector.names.values()) == ["person"] and entry.class_names == ["Normal", "Fall"]
    assert "INT8" in detector.runner.metadata["quantization"]
    assert detector.runner.input_shape[0] == "batch" and detector.runner.fixed_batch is None
