"""INT8 static quantisation of the default person model: the head's decode must stay float (its convolutions
may be INT8), and a model that loses more person AP50 than the budget is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autofine.errors import UserError
from models.training.quantize import (
    check_ap_budget,
    head_nodes,
    quantize_and_verify,
    quantize_int8,
    video_frames,
)
from vision.detections import box_iou
from vision.detectors import load_detector

COCO = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "coco128" / "data.yaml"


def test_the_budget_passes_a_small_loss_and_refuses_a_large_one():
    check_ap_budget(0.44, 0.43, 0.02)
    check_ap_budget(0.44, 0.46, 0.0)  # a gain is never refused
    with pytest.raises(
        UserError, match=r"refused: person AP50 0\.300 vs 0\.440 .* loss of 0\.140 > the budget"
    ):
        check_ap_budget(0.44, 0.30, 0.02)
    with pytest.raises(UserError, match="budget must be >= 0"):
        check_ap_budget(0.44, 0.44, -0.1)


@pytest.fixture(scope="module")
def calibration(vtest_path: Path) -> list[np.ndarray]:
    return video_frames(vtest_path, 6)


def test_int8_with_a_float_head_keeps_the_people(tmp_path, dynamic_fall_320: Path, calibration, vtest_path):
    fp32 = load_detector("fall-yolov8s", path=dynamic_fall_320)
    out = tmp_path / "int8.onnx"
    report = quantize_int8(dynamic_fall_320, out, calibration, lambda f: fp32._preprocess(f)[0])
    head = head_nodes(dynamic_fall_320, ["/model.22/"])
    decode = head_nodes(dynamic_fall_320, ["/model.22/"], convs=False)
    assert report.excluded_nodes == len(decode) > 10 and len(head) - len(decode) >= 18  # head convs INT8
    assert report.quantized_ops > 50
    int8 = load_detector("fall-yolov8s", path=out)
    assert "INT8" in int8.runner.metadata["quantization"]
    matched = 0
    for frame in video_frames(vtest_path, 4, start=200):
        a, b = fp32.detect(frame), int8.detect(frame)
        assert abs(len(a) - len(b)) <= 1
        if len(a) and len(b):
            matched += int((box_iou(a.xyxy, b.xyxy).max(axis=1) > 0.7).sum())
    assert matched >= 3


def test_quantising_the_head_decode_too_zeroes_the_scores(
    tmp_path, dynamic_fall_320: Path, calibration, vtest_path
):
    fp32 = load_detector("fall-yolov8s", path=dynamic_fall_320)
    out = tmp_path / "int8_head.onnx"
    quantize_int8(dynamic_fall_320, out, calibration, lambda f: fp32._preprocess(f)[0], exclude_prefixes=())
    int8 = load_detector("fall-yolov8s", path=out)
    frames = video_frames(vtest_path, 3, start=200)
    assert sum(len(fp32.detect(f)) for f in frames) >= 3
    assert sum(len(int8.detect(f)) for f in frames) == 0


@pytest.mark.slow
def test_an_int8_model_over_the_ap_budget_is_refused_and_removed(
    tmp_path, dynamic_fall_320: Path, vtest_path: Path
):
    out = tmp_path / "refused.onnx"
    with pytest.raises(
        UserError, match=r"INT8 refused.onnx refused: person AP50 0\.0\d\d vs 0\.\d+ in float"
    ):
        quantize_and_verify(
            "fall-yolov8s",
            dynamic_fall_320,
            out,
            vtest_path,
            COCO,
            calibration_frames=4,
            ap_budget=0.02,
            exclude_prefixes=(),  # head quantised: AP collapses, so the budget must refuse it
        )
    assert not out.exists()
