"""`autofine cluster run|status` as a user runs them (a subprocess with its own local Ray cluster)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cluster.conftest import LITTER_ID
from tests.e2e.conftest import AUTOFINE, child_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_cluster_run_writes_the_same_violations_as_a_single_run(
    camera_configs: list[Path], reference_keys: dict[str, list[str]], tmp_path: Path
) -> None:
    config = next(p for p in camera_configs if p.stem == LITTER_ID)
    summary = tmp_path / "run.json"
    done = subprocess.run(
        [*AUTOFINE, "cluster", "run", "--cameras", str(config), "--num-cpus", "1", "--summary", str(summary)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(summary.read_text())
    assert list(data) == [LITTER_ID]
    assert data[LITTER_ID]["violations"] == reference_keys[LITTER_ID]
    assert data[LITTER_ID]["health"]["state"] == "finished"
    assert LITTER_ID in done.stderr and "finished" in done.stderr  # the health table


def test_cluster_run_with_no_matching_config_is_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [*AUTOFINE, "cluster", "run", "--cameras", str(tmp_path / "nothing-*.yaml")],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "matched no file" in done.stderr and "Traceback" not in done.stderr
