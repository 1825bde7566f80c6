"""`autofine detect` end to end, as a user runs it (a subprocess), on the real sample video."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from tests.onnx_factory import constant_model


def autofine(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from autofine.cli import main; main()", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def vtest_frames(vtest_path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(vtest_path))
    frames = [capture.read()[1] for _ in range(301)]
    capture.release()
    return [frames[0], frames[300]]


@pytest.fixture
def an_image(tmp_path, vtest_frames) -> Path:
    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), vtest_frames[1])
    return path


@pytest.mark.slow
def test_video_gives_an_annotated_mp4_and_one_jsonl_line_per_frame(tmp_path, vtest_path, yolox_nano_path):
    out = tmp_path / "out"
    result = autofine(
        "detect", vtest_path, "--model", "yolox-nano", "--model-path", yolox_nano_path, "--out", out,
        "--max-frames", "5", "--conf", "0.4", "--threads", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "yolox-nano" in result.stderr and "differs from the official" in result.stderr  # which model, why
    lines = [json.loads(line) for line in (out / "detections.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == [0, 1, 2, 3, 4]
    for line in lines:
        people = [d for d in line["detections"] if d["class_name"] == "person"]
        assert len(people) >= 3  # frame 0 has three walkers (plus the blue sign)
        assert all(0.4 <= d["confidence"] <= 1 and len(d["xyxy"]) == 4 for d in people)
    video = cv2.VideoCapture(str(out / "annotated.mp4"))
    size = int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))
    assert size == (768, 576)
    decoded = 0
    while video.read()[0]:
        decoded += 1
    assert decoded == 5
    run = json.loads((out / "run.json").read_text())
    assert run["model"]["id"] == "yolox-nano" and run["frames"] == 5 and run["providers"]


def test_folder_of_images_gives_annotated_images(tmp_path, vtest_frames, yolox_nano_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i, frame in enumerate(vtest_frames):
        cv2.imwrite(str(folder / f"f{i}.png"), frame)
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    result = autofine("detect", folder, "--model", yolox_nano_path, "--out", out)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (out / "annotated").iterdir()) == ["f0.jpg", "f1.jpg"]
    lines = [json.loads(line) for line in (out / "detections.jsonl").read_text().splitlines()]
    assert [line["source"] for line in lines] == ["f0.png", "f1.png"]
    assert all(len(line["detections"]) >= 3 for line in lines)
    annotated = cv2.imread(str(out / "annotated" / "f1.jpg"))
    assert annotated.shape == vtest_frames[1].shape
    assert np.abs(annotated.astype(int) - vtest_frames[1]).mean() > 0.5  # boxes were drawn


def _bad_inputs(tmp: Path, image: Path) -> dict[str, tuple[list[str | Path], str]]:
    corrupt = tmp / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 500)
    bare = constant_model(tmp / "bare.onnx", np.zeros((1, 6, 10)))
    broken_video = tmp / "broken.avi"
    broken_video.write_bytes(b"RIFF\x00\x00" + b"\x00" * 2000)
    empty = tmp / "empty"
    empty.mkdir()
    return {
        "missing source": ([tmp / "nope.mp4"], "does not exist"),
        "unreadable video": ([broken_video], "cannot decode video"),
        "empty folder": ([empty], "has no images"),
        "missing model file": ([image, "--model", tmp / "missing.onnx"], "does not exist"),
        "corrupt model": ([image, "--model", corrupt], "corrupt or not ONNX"),
        "model without metadata": ([image, "--model", bare], "not a recognised detector"),
        "unknown model id": ([image, "--model", "yolo99"], "unknown model 'yolo99'"),
        "unknown provider": ([image, "--model", bare, "--providers", "warp"], "execution provider 'warp'"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing source",
        "unreadable video",
        "empty folder",
        "missing model file",
        "corrupt model",
        "model without metadata",
        "unknown model id",
        "unknown provider",
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, an_image, case):
    args, message = _bad_inputs(tmp_path, an_image)[case]
    result = autofine("detect", *args, "--out", tmp_path / "out")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA is installed")
def test_a_gpu_provider_without_onnxruntime_gpu_names_the_package(tmp_path, an_image, yolox_nano_path):
    result = autofine("detect", an_image, "--model", yolox_nano_path, "--providers", "cuda")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "install onnxruntime-gpu" in result.stderr
