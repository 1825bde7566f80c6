"""`autofine models list|fetch` and `autofine samples` as a user runs them, on a temporary cache dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def autofine(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from autofine.cli import main; main()", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, timeout=300)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"AUTOFINE_CACHE_DIR": str(tmp_path / "cache"), "AUTOFINE_OFFLINE": "1", "COLUMNS": "200"}


def test_models_list_shows_every_registered_model(env):
    result = autofine("models", "list", env=env)
    assert result.returncode == 0, result.stderr
    for model_id in ("fall-yolov8s", "yolox-nano", "yolo11n"):
        assert model_id in result.stdout


def test_fetch_from_a_local_file_then_default_uses_it(env, yolox_nano_path, tmp_path):
    missing = autofine("models", "fetch", "yolox-nano", env=env)
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
    assert "--from FILE" in missing.stderr
    added = autofine("models", "fetch", "yolox-nano", "--from", yolox_nano_path, env=env)
    assert added.returncode == 0, added.stderr
    assert str(tmp_path / "cache" / "models" / "yolox-nano" / "yolox_nano.onnx") in added.stdout
    listed = autofine("models", "list", env=env)
    assert "│ yes" in listed.stdout.split("yolox-nano", 1)[1].splitlines()[0]


def test_unknown_sample_is_one_line(env):
    result = autofine("samples", "fetch", "nope.avi", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: unknown sample 'nope.avi'; known samples: vtest.avi"
