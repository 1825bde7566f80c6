"""The ultralytics export path: a locally built model exported to ONNX loads in autofine's detector."""

from __future__ import annotations

import cv2
import pytest

pytest.importorskip("ultralytics")
pytestmark = pytest.mark.train

from models.registry import export_onnx  # noqa: E402
from vision.detectors import load_detector  # noqa: E402
from vision.detectors.yolo import YoloDetector  # noqa: E402


@pytest.fixture(scope="module")
def frames(vtest_path):
    capture = cv2.VideoCapture(str(vtest_path))
    images = [capture.read()[1] for _ in range(3)]
    capture.release()
    return images


def test_fixed_batch_export_from_a_yaml_loads_with_its_metadata(tmp_path, frames):
    path = export_onnx("yolov8n.yaml", imgsz=320, out=tmp_path / "yolov8n.onnx")
    assert path.is_file() and not (tmp_path / "yolov8n.pt").exists()
    detector = load_detector(path)
    assert isinstance(detector, YoloDetector)
    assert detector.input_size == (320, 320) and detector.stride == 32 and len(detector.names) == 80
    assert detector.runner.fixed_batch == 1
    assert detector.model_info.id == "yolov8n" and detector.model_info.version == "unregistered"
    assert len(detector.detect_batch(frames)) == 3  # random weights: boxes are noise, the run must work


def test_dynamic_batch_export_runs_several_frames_in_one_call(tmp_path, frames):
    path = export_onnx("yolov8n.yaml", imgsz=320, out=tmp_path / "dyn.onnx", dynamic=True)
    detector = load_detector(path, conf=0.0)
    assert detector.runner.fixed_batch is None
    batched = detector.detect_batch(frames)
    single = [detector.detect(frame) for frame in frames]
    assert len(batched) == 3
    compared = 0
    for a, b in zip(batched, single, strict=True):
        assert len(a) == len(b) > 0
        assert abs(a.confidence - b.confidence).max() < 1e-4
        compared += len(a)
    assert compared > 0
