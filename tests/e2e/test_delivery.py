"""Camera → service delivery with real processes: the service down for a while, the camera SIGKILLed."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    Service,
    child_env,
    max_attempts,
    outbox_counts,
    run_command,
    wait_for,
)
from vision.sinks import read_violations

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class DownThenUp:
    produced: list[str]  # idempotency keys the pipeline wrote to violations.jsonl, in order
    stored: list[str]  # idempotency keys in the service DB, one per stored violation
    attempts_while_down: int
    pending_while_down: int
    returncode: int


@pytest.fixture(scope="module")
def down_then_up(tmp_path_factory: pytest.TempPathFactory, yolox_nano_path: Path) -> DownThenUp:
    """One uninterrupted pipeline pass whose service is down for its first violations, then up."""
    tmp = tmp_path_factory.mktemp("down-then-up")
    (tmp / "service").mkdir()
    service = Service(tmp / "service")
    outbox = tmp / "outbox.sqlite3"
    camera = subprocess.Popen(
        run_command(yolox_nano_path, tmp / "run", service, outbox),
        env=child_env(AUTOFINE_CAMERA_TOKEN=service.token),
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "camera.log", "wb"),  # noqa: SIM115
    )
    try:
        # The service is not running: violations pile up in the outbox and delivery keeps failing.
        wait_for(lambda: outbox_counts(outbox)["pending"] >= 2 and max_attempts(outbox) >= 2, what="failures")
        attempts, pending = max_attempts(outbox), outbox_counts(outbox)["pending"]
        assert camera.poll() is None, "the camera must still be running when the service comes up"
        service.start()
        returncode = camera.wait(600)
        produced = [
            f"{r.camera_id}:{r.incident_id}" for r in read_violations(tmp / "run" / "violations.jsonl")
        ]
        return DownThenUp(produced, service.violation_keys(), attempts, pending, returncode)
    finally:
        if camera.poll() is None:
            camera.kill()
        service.stop()


def test_service_down_then_up_every_violation_arrives_exactly_once(down_then_up: DownThenUp) -> None:
    result = down_then_up
    assert result.returncode == 0
    assert result.attempts_while_down >= 2 and result.pending_while_down >= 2
    assert len(result.produced) > 0
    assert len(set(result.produced)) == len(result.produced)
    assert sorted(result.stored) == sorted(result.produced)  # none lost, none twice


def test_camera_sigkilled_mid_run_and_restarted_loses_and_duplicates_nothing(
    down_then_up: DownThenUp, make_service, yolox_nano_path: Path, tmp_path: Path
) -> None:
    service = make_service().start()
    outbox = tmp_path / "outbox.sqlite3"
    command = run_command(yolox_nano_path, tmp_path / "run", service, outbox)
    env = child_env(AUTOFINE_CAMERA_TOKEN=service.token)

    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: outbox_counts(outbox)["delivered"] >= 2, what="two violations delivered")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL  # killed, not finished
    before_restart = service.violation_keys()
    assert 0 < len(before_restart) < len(down_then_up.produced)

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    stored = service.violation_keys()
    assert Counter(stored) == Counter(down_then_up.produced)  # same incidents as the uninterrupted pass
    assert outbox_counts(outbox) == {"pending": 0, "delivered": len(down_then_up.produced), "parked": 0}
