"""`autofine demo --no-serve`: the README's first command, end to end, checked through the service API."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import AUTOFINE, REPO, child_env, free_port, wait_for

pytestmark = pytest.mark.slow


def test_demo_delivers_cases_into_the_review_queue(tmp_path: Path, yolox_nano_path: Path) -> None:
    data_dir = tmp_path / "demo"
    port = free_port()
    demo = subprocess.run(
        [
            *AUTOFINE,
            "demo",
            "--no-serve",
            "--max-frames",
            "60",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--model",
            "yolox-nano",
            "--model-path",
            str(yolox_nano_path),
        ],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    out = demo.stdout
    assert "demo summary" in out
    password = re.search(r"review as reviewer / password (\S+)", out).group(1)
    delivered = int(re.search(r"delivered to the service\s*\S\s*(\d+)", out).group(1))
    queued = int(re.search(r"queued for human review\s*\S\s*(\d+)", out).group(1))
    auto = int(re.search(r"fines auto-issued\s*\S\s*(\d+)", out).group(1))
    assert delivered > 0
    assert queued + auto == delivered

    # The service the demo left behind, started again on its data: the cases wait for a reviewer.
    service_port = free_port()
    service = subprocess.Popen(
        [*AUTOFINE, "serve", "--port", str(service_port)],
        env=child_env(
            AUTOFINE_DATA_DIR=str(data_dir), AUTOFINE_DATABASE_URL=f"sqlite:///{data_dir}/autofine.sqlite3"
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{service_port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=60, what="the service")
        login = httpx.post(f"{url}/api/v1/auth/token", data={"username": "reviewer", "password": password})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        queue = httpx.get(f"{url}/api/v1/review/cases", headers=headers, params={"limit": 200})
        assert queue.status_code == 200, queue.text
        body = queue.json()
        assert body["count"] == queued > 0
        assert {case["violation_type"] for case in body["data"]} == {"jaywalking"}
        assert {case["status"] for case in body["data"]} == {"pending_review"}
        assert len(body["data"]) == queued
    finally:
        service.terminate()
        service.wait(20)
