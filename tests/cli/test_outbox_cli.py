"""`autofine outbox status|retry|prune` as a user runs them (subprocesses) on a real outbox file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.vision.test_outbox import IntakeServer, fill_every_state, make_record
from vision.outbox import Outbox


def autofine(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from autofine.cli import main; main()", *map(str, args)]
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=full_env)


def outbox_with_trouble(tmp_path: Path) -> Path:
    """Three rows: one parked by a 422, one backed off after a connection error, one fresh."""
    path = tmp_path / "outbox" / "cam-test.sqlite3"
    with Outbox(path) as outbox:
        for n in range(3):
            outbox.add(*make_record(tmp_path, n))
        first, second, _ = outbox.due()
        outbox.mark_parked(first.id, http_status=422, error='{"detail": "invalid record: [zones] bad"}')
        outbox.mark_failed(second.id, http_status=None, error="ConnectError: refused", delay_s=3600)
    return path


def test_status_shows_counts_errors_and_parked_rows(tmp_path: Path) -> None:
    path = outbox_with_trouble(tmp_path)
    result = autofine("outbox", "status", env={"AUTOFINE_OUTBOX_DIR": str(path.parent)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for state, n in (("pending", 2), ("delivered", 0), ("parked", 1)):
        assert re.search(rf"│ {state}\s+│ {n}\s+│", out), (state, out)
    assert "ConnectError: refused" in out
    assert "parked cam-test:jaywalking-0000  HTTP 422" in out
    assert "[zones] bad" in out  # error text printed literally, not eaten as markup
    assert "autofine outbox retry --parked" in out


def test_retry_parked_sends_everything_from_the_cli(tmp_path: Path) -> None:
    path = outbox_with_trouble(tmp_path)
    server = IntakeServer(lambda n, key: 201)
    try:
        result = autofine(
            "outbox",
            "retry",
            "--path",
            path,
            "--parked",
            "--service-url",
            server.url,
            "--token",
            "tok",
            "--timeout",
            "30",
        )
    finally:
        server.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 pending row(s) due now, 1 requeued from parked" in result.stdout
    assert sorted(server.keys()) == [f"cam-test:jaywalking-{n:04d}" for n in range(3)]
    with Outbox(path) as outbox:
        assert outbox.counts() == {"pending": 0, "delivered": 3, "parked": 0}


def test_missing_outbox_is_one_red_line(tmp_path: Path) -> None:
    result = autofine("outbox", "status", "--path", tmp_path / "nope.sqlite3")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "not found" in result.stderr
    empty = autofine("outbox", "status", env={"AUTOFINE_OUTBOX_DIR": str(tmp_path)})
    assert empty.returncode == 2 and "no outbox in" in empty.stderr


def test_prune_removes_delivered_rows_past_retention_and_prints_the_count(tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "cam-test.sqlite3"
    with Outbox(path) as outbox:  # delivered 40 days ago x2, 1 day ago x2, pending x2, parked x1
        keys = fill_every_state(tmp_path, outbox, time.time(), old=2, recent=2, pending=2, parked=1)
    result = autofine("outbox", "prune", "--path", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"{path}: 2 delivered row(s) older than 30 day(s) removed; left: pending 2, delivered 2, parked 1"
    )
    with Outbox(path) as outbox:
        kept = sorted(e.idempotency_key for e in outbox.entries())
    assert kept == sorted(keys["recent"] + keys["pending"] + keys["parked"])

    # --camera finds the outbox the pipeline of that camera config uses (here the default one).
    camera = tmp_path / "cam.yaml"
    camera.write_text("camera_id: cam-test\n")
    env = {"AUTOFINE_OUTBOX_DIR": str(path.parent)}
    result = autofine("outbox", "prune", "--camera", camera, "--older-than-days", "0", env=env)
    assert result.returncode == 0, result.stderr
    assert (
        "2 delivered row(s) older than 0 day(s) removed; left: pending 2, delivered 0, parked 1"
        in result.stdout
    )
    with Outbox(path) as outbox:
        assert outbox.counts() == {"pending": 2, "delivered": 0, "parked": 1}


def test_prune_bad_input_is_one_red_line(tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "cam-test.sqlite3"
    with Outbox(path) as outbox:
        fill_every_state(tmp_path, outbox, time.time(), old=1, recent=0, pending=1, parked=0)
    camera = tmp_path / "cam.yaml"
    camera.write_text("camera_id: cam-test\n")
    cases = [
        (("--path", path, "--older-than-days", "-1"), "must be between 0 and"),
        (("--path", path, "--camera", camera), "either --path or --camera"),
        (("--camera", tmp_path / "nope.yaml"), "camera config"),
    ]
    for args, message in cases:
        result = autofine("outbox", "prune", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert message in result.stderr
    with Outbox(path) as outbox:  # nothing was pruned by the refused commands
        assert outbox.counts() == {"pending": 1, "delivered": 1, "parked": 0}
