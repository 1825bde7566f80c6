"""One inference worker for several cameras: batched results equal single-frame ones; waits are bounded."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.batching import BatchingConfig, InferenceWorker
from vision.detections import Detections
from vision.detectors import load_detector


def _frames(video: Path, count: int, step: int = 40) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames, index = [], 0
    while len(frames) < count and cap.grab():
        if index % step == 0:
            ok, image = cap.retrieve()
            assert ok
            frames.append(image)
        index += 1
    cap.release()
    assert len(frames) == count
    return frames


def _assert_same(batched: list[Detections], single: list[Detections]) -> int:
    compared = 0
    for b, s in zip(batched, single, strict=True):
        assert len(b) == len(s)
        np.testing.assert_allclose(b.xyxy, s.xyxy, atol=1e-3)
        np.testing.assert_allclose(b.confidence, s.confidence, atol=1e-4)
        assert list(b.class_name) == list(s.class_name)
        compared += len(b)
    return compared


def test_the_re_exported_model_has_a_dynamic_batch(dynamic_fall_320: Path):
    detector = load_detector("fall-yolov8s", path=dynamic_fall_320)
    assert detector.runner.fixed_batch is None
    assert detector.input_size == (320, 320)
    assert set(detector.names.values()) == {"person"}  # the registry's class map still applies


def test_a_batch_gives_the_same_detections_as_single_frames(dynamic_fall_320: Path, vtest_path: Path):
    detector = load_detector("fall-yolov8s", path=dynamic_fall_320)
    frames = _frames(vtest_path, 6)
    single = [detector.detect(f) for f in frames]
    batched = detector.detect_batch(frames)
    # measured 7 boxes: at 320 px the fall model sees only the nearer walkers
    assert _assert_same(batched, single) >= 5


def test_cameras_sharing_a_worker_get_their_own_frames_results(dynamic_fall_320: Path, vtest_path: Path):
    detector = load_detector("fall-yolov8s", path=dynamic_fall_320)
    frames = _frames(vtest_path, 8, step=25)
    single = [detector.detect(f) for f in frames]
    results: dict[int, list[Detections]] = {}
    cameras = 4
    with InferenceWorker(detector, BatchingConfig(max_batch=4, max_wait_ms=200)) as worker:

        def camera(i: int) -> None:
            client = worker.client(f"cam{i}")
            results[i] = [client.detect(frames[j]) for j in range(i, len(frames), cameras)]

        threads = [threading.Thread(target=camera, args=(i,)) for i in range(cameras)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = worker.stats()
    batched = [results[j % cameras][j // cameras] for j in range(len(frames))]
    assert _assert_same(batched, single) >= 6  # measured 10
    assert stats.frames == len(frames)
    assert stats.mean_batch > 1  # frames of several cameras did share a model run


def test_one_camera_alone_is_not_held_beyond_max_wait(yolox_nano_path: Path, vtest_path: Path):
    detector = load_detector("yolox-nano", path=yolox_nano_path)
    frames = _frames(vtest_path, 3)
    with InferenceWorker(detector, BatchingConfig(max_batch=8, max_wait_ms=5)) as worker:
        client = worker.client("only")
        found = [client.detect(f) for f in frames]
        stats = worker.stats()
    assert stats.batches == 3 and stats.mean_batch == 1.0  # nobody else came within 5 ms: ran alone
    assert _assert_same(found, [detector.detect(f) for f in frames]) >= 6
    assert client.names == detector.names and client.model_info == detector.model_info


def test_a_model_error_reaches_the_camera_and_the_worker_keeps_serving(yolox_nano_path: Path):
    detector = load_detector("yolox-nano", path=yolox_nano_path)
    with InferenceWorker(detector, BatchingConfig(max_batch=2, max_wait_ms=1)) as worker:
        with pytest.raises(ValueError, match="BGR uint8"):
            worker.submit(np.zeros((10, 10), np.float32)).result()
        assert isinstance(worker.submit(np.zeros((64, 64, 3), np.uint8)).result(), Detections)
