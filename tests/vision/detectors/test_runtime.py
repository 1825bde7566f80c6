from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from autofine.errors import UserError
from tests.onnx_factory import constant_model
from vision.detectors.runtime import OnnxRunner, resolve_providers

REPO = Path(__file__).resolve().parents[3]


def test_automatic_providers_prefer_the_most_capable_available_and_end_with_cpu():
    chosen = resolve_providers(None)
    assert chosen[-1] == "CPUExecutionProvider"
    order = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "OpenVINOExecutionProvider"]
    order.append("CPUExecutionProvider")
    assert chosen == [p for p in order if p in ort.get_available_providers()]


def test_short_and_full_provider_names_are_accepted():
    assert resolve_providers(["cpu"]) == ["CPUExecutionProvider"]
    assert resolve_providers(["CPUExecutionProvider", "cpu"]) == ["CPUExecutionProvider"]


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA is installed")
def test_an_uninstalled_provider_names_the_package_to_install():
    with pytest.raises(UserError, match="onnxruntime-gpu"):
        resolve_providers(["cuda"])


@pytest.mark.skipif("OpenVINOExecutionProvider" in ort.get_available_providers(), reason="OpenVINO is here")
def test_openvino_names_its_package():
    with pytest.raises(UserError, match="onnxruntime-openvino"):
        resolve_providers(["OpenVINOExecutionProvider"])


def test_an_unknown_provider_lists_the_known_names():
    with pytest.raises(UserError, match="unknown.*use one of"):
        resolve_providers(["warp-drive"])


def test_threads_and_a_corrupt_file(tmp_path):
    model = constant_model(tmp_path / "m.onnx", np.ones((1, 2, 3)))
    runner = OnnxRunner(model, threads=1)
    assert runner.fixed_batch == 1 and runner.input_shape == [1, 3, 64, 64]
    outputs = runner.run(np.zeros((2, 3, 64, 64), dtype=np.float32))  # fixed batch 1: run twice
    assert outputs[0].shape == (2, 2, 3)
    with pytest.raises(UserError, match="threads must be >= 1"):
        OnnxRunner(model, threads=0)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x00not an onnx file" * 100)
    with pytest.raises(UserError, match="corrupt or not ONNX"):
        OnnxRunner(corrupt)
    with pytest.raises(UserError, match="does not exist"):
        OnnxRunner(tmp_path / "missing.onnx")


def test_tensorrt_builds_fp16_engines_into_the_cache(tmp_path, monkeypatch):
    from vision.detectors.runtime import provider_options

    monkeypatch.setenv("AUTOFINE_CACHE_DIR", str(tmp_path))
    options = provider_options("TensorrtExecutionProvider")
    assert options["trt_fp16_enable"] == "True" and options["trt_engine_cache_enable"] == "True"
    assert options["trt_engine_cache_path"] == str(tmp_path / "tensorrt") and (tmp_path / "tensorrt").is_dir()
    assert provider_options("CPUExecutionProvider") == {}


def test_idle_threads_sleep_unless_the_camera_asks_them_to_spin(tmp_path):
    """Spinning onnxruntime threads take the cores the evidence and decode threads need (docs/fast-path.md):
    off unless `detector.spin` is set, and the camera setting reaches the session."""
    from vision.detectors import load_camera_detector
    from vision.scene import CameraConfig

    model = constant_model(tmp_path / "m.onnx", np.ones((1, 2, 3)))

    def spinning(runner: OnnxRunner) -> str:
        options = runner.session.get_session_options()
        return options.get_session_config_entry("session.intra_op.allow_spinning")

    assert spinning(OnnxRunner(model)) == "0"
    assert spinning(OnnxRunner(model, spin=True)) == "1"
    fields = {"camera_id": "c", "source": "x.mp4", "model": str(REPO / "models" / "cigarette.onnx")}
    for spin in (False, True):
        config = CameraConfig.model_validate({**fields, "detector": {"spin": spin}})
        assert spinning(load_camera_detector(config).runner) == str(int(spin))


def test_io_binding_gives_the_same_outputs_as_a_plain_run(vtest_people_frames):
    """CUDA and TensorRT run through an I/O binding (outputs on the device); the same code on the CPU
    provider must return what `session.run` returns, for a batch of real frames."""
    from vision.detectors import load_detector

    detector = load_detector("fall-yolov8s-int8")
    assert detector.runner.io_binding is False  # CPU: off unless asked
    bound = OnnxRunner(detector.runner.path, io_binding=True)
    images = [image for image, _ in vtest_people_frames.values()]
    batch = np.stack([detector._preprocess(image)[0] for image in images])
    plain_out, bound_out = detector.runner.run(batch), bound.run(batch)
    assert len(plain_out) == len(bound_out) >= 1
    for a, b in zip(plain_out, bound_out, strict=True):
        assert a.shape == b.shape and a.shape[0] == len(images)
        np.testing.assert_array_equal(a, b)
    assert bound.busy_s > 0


def test_io_binding_on_a_fixed_batch_model(tmp_path):
    model = constant_model(tmp_path / "m.onnx", np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    bound = OnnxRunner(model, io_binding=True)
    outputs = bound.run(np.zeros((3, 3, 64, 64), dtype=np.float32))
    assert outputs[0].shape == (3, 2, 3)
    np.testing.assert_array_equal(outputs[0][2], np.arange(6).reshape(2, 3))
