"""`autofine run` and `autofine zones draw` as a user runs them (real video, real model, real Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from vision.evidence import sha256_file
from vision.sinks import read_violations

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from autofine.cli import main; main()"]


def _camera(tmp_path: Path, vtest_path: Path, extra: str = "") -> Path:
    text = (
        (REPO / "cameras" / "vtest.yaml")
        .read_text()
        .replace("source: sample:vtest.avi", f"source: {vtest_path}")
    )
    path = tmp_path / "cam.yaml"
    path.write_text(text + extra)
    return path


def test_zones_draw_writes_a_png(tmp_path: Path, vtest_path: Path) -> None:
    out = tmp_path / "zones.png"
    result = subprocess.run(
        [*CLI, "zones", "draw", str(_camera(tmp_path, vtest_path)), "--frame", "10", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(out))
    assert image.shape == (576, 768, 3)
    # the road outline is drawn in red on the asphalt's top edge (y≈192 at x=100)
    b, g, r = (int(v) for v in image[192, 100])
    assert r > 150 and g < 120 and b < 120


def test_bad_config_is_one_red_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera_id: x\nzones:\n  road: [[[0, 0], [1, 1]]]\n")
    result = subprocess.run(
        [*CLI, "run", "--camera", str(bad)], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "polygon 0 has 2 points" in lines[0]


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_what_was_written(
    tmp_path: Path, vtest_path: Path, yolox_nano_path: Path
) -> None:
    out = tmp_path / "out"
    cmd = [
        *CLI,
        "run",
        "--camera",
        str(_camera(tmp_path, vtest_path)),
        "--out",
        str(out),
        "--model",
        "yolox-nano",
        "--model-path",
        str(yolox_nano_path),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    jsonl = out / "violations.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not jsonl.exists() or len(jsonl.read_text().splitlines()) < 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    assert "stopped by Ctrl-C" in output
    records = read_violations(jsonl)
    assert 2 <= len(records) < 15  # stopped early: fewer than a full run's 21
    assert len(jsonl.read_text().splitlines()) == len(records)  # no torn line
    for record in records:
        for item in record.evidence:
            assert sha256_file(out / "evidence" / record.incident_id / item.name) == item.sha256
    summary = [line for line in output.splitlines() if "frames in" in line]
    assert summary and int(summary[0].split(":")[1].split()[0]) < 398
    run = json.loads((out / "run.json").read_text())
    assert run["interrupted"] is True and run["stats"]["frames"] < 398
    assert run["stats"]["violations"]["jaywalking"] == len(records)
    assert run["source_health"]["state"] == "stopped"
