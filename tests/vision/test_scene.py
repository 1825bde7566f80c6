"""Camera config validation (one-line UserErrors), zones, pedestrian signal, config hash."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from autofine.errors import UserError
from tests.helpers import T0
from vision.scene import (
    CameraConfig,
    PedestrianSignal,
    Scene,
    SignalConfig,
    SignalRegionConfig,
    ZonesConfig,
    load_camera_config,
)

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cam.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("camera_id: a\nzonez: {}\n", "zonez: unknown key"),
        ("zones:\n  road: [[[0, 0], [10, 0]]]\n", "polygon 0 has 2 points"),
        ("zones:\n  road: [[[0, 0], [10, 10], [10, 0], [0, 10]]]\n", "self-intersecting"),
        ("zones:\n  road: [[[0, 0], [5, 5], [10, 10]]]\n", "no area"),
        (
            "frame_size: [100, 100]\nzones:\n  crosswalk: [[[0, 0], [150, 0], [0, 50]]]\n",
            "outside the 100x100",
        ),
        ("rules:\n  jaywalking:\n    confirm: {votes: 9, window: 3}\n", "votes (9) cannot exceed window (3)"),
        ("rules:\n  jaywalking:\n    min_seconds_on_road: -1\n", "rules.jaywalking.min_seconds_on_road"),
        ("signal: {}\n", "exactly one of 'schedule' or 'region'"),
        ("camera_id: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_bad_configs_fail_with_one_line(tmp_path: Path, yaml_text: str, message: str) -> None:
    with pytest.raises(UserError) as info:
        load_camera_config(_write(tmp_path, yaml_text))
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_camera_config(tmp_path / "nope.yaml")


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    config = load_camera_config(_write(tmp_path, ""))
    assert config == CameraConfig()


@pytest.mark.parametrize("name", ["vtest.yaml", "vtest_wide_crosswalk.yaml", "vtest_no_road.yaml"])
def test_shipped_configs_load(name: str) -> None:
    config = load_camera_config(REPO / "cameras" / name)
    assert config.source == "sample:vtest.avi" and config.model == "default"
    assert config.frame_size == (768, 576)


def test_config_hash_is_canonical_and_sensitive() -> None:
    a = CameraConfig(camera_id="x")
    b = CameraConfig.model_validate({"camera_id": "x"})
    assert a.config_hash == b.config_hash and len(a.config_hash) == 64
    c = CameraConfig(camera_id="x", analysis_fps=4)
    assert c.config_hash != a.config_hash


def test_relative_source_resolved_against_yaml(tmp_path: Path) -> None:
    (tmp_path / "clip.avi").write_bytes(b"x")
    config = load_camera_config(_write(tmp_path, "source: clip.avi\n"))
    assert config.source == str(tmp_path / "clip.avi")


def test_zone_contains_and_scene() -> None:
    zones = ZonesConfig(
        road=[[(0, 0), (100, 0), (100, 100), (0, 100)]], crosswalk=[[(40, 0), (60, 0), (60, 100), (40, 100)]]
    )
    scene = Scene(zones)
    pts = np.array([[50, 50], [150, 50], [10, 90], [55, 20]])
    assert scene.inside("road", pts).tolist() == [True, False, True, True]
    assert scene.inside("crosswalk", pts).tolist() == [True, False, False, True]
    assert scene.inside("no_smoking", pts).tolist() == [False] * 4
    assert scene.inside("road", np.zeros((0, 2))).shape == (0,)
    assert scene.zone_names_at((55, 20)) == ("road[0]", "crosswalk[0]")
    assert scene.zone_names_at((150, 20)) == ()


def test_signal_schedule() -> None:
    signal = PedestrianSignal(
        SignalConfig.model_validate(
            {
                "schedule": {
                    "cycle_start": T0,
                    "phases": [{"state": "green", "seconds": 20}, {"state": "red", "seconds": 40}],
                }
            }
        )
    )
    assert signal.is_red(T0 + timedelta(seconds=5)) is False
    assert signal.is_red(T0 + timedelta(seconds=25)) is True
    assert signal.is_red(T0 + timedelta(seconds=65)) is False  # next cycle


def test_signal_region_reads_the_lamp_colour() -> None:
    signal = PedestrianSignal(SignalConfig(region=SignalRegionConfig(box=(10, 10, 30, 40))))
    image = np.zeros((60, 60, 3), dtype=np.uint8)
    assert signal.is_red(T0, image) is None  # dark: cannot tell
    image[12:25, 12:28] = (0, 0, 255)  # BGR red lamp
    assert signal.is_red(T0, image) is True
    image[:] = 0
    image[25:38, 12:28] = (0, 255, 0)  # green lamp
    assert signal.is_red(T0, image) is False
