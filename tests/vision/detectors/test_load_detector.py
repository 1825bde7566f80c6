"""`load_detector` with the real models: family, classes after mapping, provenance."""

import pytest

from vision.detectors import load_detector
from vision.detectors.yolo import YoloDetector
from vision.detectors.yolox import YoloxDetector


def test_yolox_nano_by_path_is_recognised_without_the_registry(yolox_nano_path):
    detector = load_detector(yolox_nano_path)
    assert isinstance(detector, YoloxDetector)
    assert detector.input_size == (416, 416) and len(detector.names) == 80
    assert detector.model_info.id == "yolox_nano" and detector.model_info.version == "unregistered"


def test_fall_model_through_the_registry_maps_normal_to_person_and_drops_fall(fall_onnx_path):
    detector = load_detector("fall-yolov8s")
    assert isinstance(detector, YoloDetector)
    assert detector.names == {0: "person"} and detector.raw_names == {0: "Normal", 1: "Fall"}
    assert detector.input_size == (640, 640) and detector.stride == 32
    info = detector.model_info
    assert (info.id, info.version) == ("fall-yolov8s", "0.1.2")
    assert info.sha256 == "eee43d6844141b8f3b9cea25dbb4faa9f6bfde117d49329a3be43cbfd42c2ac7"
    assert detector.providers[-1] == "CPUExecutionProvider"


def test_the_fall_file_given_by_path_is_identified_by_its_hash(fall_onnx_path):
    detector = load_detector(fall_onnx_path)
    assert detector.model_info.id == "fall-yolov8s" and detector.names == {0: "person"}


@pytest.mark.slow
def test_fall_model_counts_people_on_real_vtest_frames(fall_onnx_path, vtest_people_frames):
    detector = load_detector("fall-yolov8s", conf=0.4)
    compared = 0
    for index, (image, visible) in vtest_people_frames.items():
        found = detector.detect(image)
        people = int((found.class_name == "person").sum())
        # found / visible with `Fall` dropped (2026-11-25): 5/7, 6/6, 4/6, 5/8; the + 2 is slack for merged or
        # split boxes (with `Fall` kept the yellow cloth on the grass added one: 6/7, 7/6, 5/6, 5/8)
        assert 4 <= people <= visible + 2, f"frame {index}: {people} people found, {visible} visible"
        assert set(found.data["raw_class_name"]) <= {"Normal", "Fall"}
        compared += 1
    assert compared == 4
