"""End-to-end helpers: the real fine service (`autofine serve`) and the real pipeline (`autofine run`) as
separate processes on 127.0.0.1, talking HTTP through the durable outbox."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
AUTOFINE = [sys.executable, "-c", "from autofine.cli import main; main()"]  # the `autofine` command
CAMERA = REPO / "cameras" / "vtest.yaml"
MAX_FRAMES = 150  # 30 s of vtest.avi at 5 analysed fps: enough for several jaywalking incidents


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float = 120.0, what: str = "condition") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"COLUMNS": "200", "PYTHONUNBUFFERED": "1", **extra})
    return env


class Service:
    """`autofine serve` on a free port with its own data folder; the camera is registered beforehand."""

    def __init__(self, data_dir: Path, camera_id: str = "vtest") -> None:
        from sqlmodel import Session

        from api.bootstrap import ensure_camera, open_engine
        from api.settings import Settings

        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_path = data_dir / "autofine.sqlite3"
        # The e2e camera configs have no signing key: unsigned records are accepted here, while a signed
        # record must still verify against a registered key (`register_key`).
        self.env = child_env(
            AUTOFINE_DATA_DIR=str(data_dir),
            AUTOFINE_DATABASE_URL=f"sqlite:///{self.db_path}",
            AUTOFINE_REQUIRE_SIGNATURES="false",
        )
        self.settings = Settings(
            data_dir=data_dir, database_url=f"sqlite:///{self.db_path}", require_signatures=False
        )
        engine = open_engine(self.settings)
        with Session(engine) as session:
            self.token = ensure_camera(session, camera_id=camera_id)
        engine.dispose()
        self.process: subprocess.Popen | None = None

    def register_key(self, camera_id: str, public_key_pem: str) -> None:
        """Register a camera's signing key (as `autofine admin camera-key add` does)."""
        from sqlmodel import Session

        from api.bootstrap import open_engine
        from api.keys import add_key

        engine = open_engine(self.settings)
        with Session(engine) as session:
            add_key(session, camera_id=camera_id, public_key_pem=public_key_pem, actor="test")
        engine.dispose()

    def start(self) -> Service:
        log = open(self.data_dir / "service.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [*AUTOFINE, "serve", "--port", str(self.port)], env=self.env, stdout=log, stderr=log
        )
        wait_for(self._healthy, timeout=60, what=f"the service on {self.url}")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"service exited: {(self.data_dir / 'service.log').read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def violation_keys(self) -> list[str]:
        """Every violation the service stored (one row per delivery that counted), straight from its DB."""
        with sqlite3.connect(self.db_path) as db:
            return [row[0] for row in db.execute("SELECT idempotency_key FROM violation ORDER BY id")]


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator:
    services: list[Service] = []

    def make(name: str = "service") -> Service:
        folder = tmp_path / name
        folder.mkdir()
        services.append(Service(folder))
        return services[-1]

    yield make
    for service in services:
        service.stop()


def run_command(yolox_nano_path: Path, out: Path, service: Service, outbox: Path) -> list[str]:
    """`autofine run` on the shipped vtest camera with YOLOX-Nano, delivering to `service`."""
    return [
        *AUTOFINE,
        "run",
        "--camera",
        str(CAMERA),
        "--model",
        "yolox-nano",
        "--model-path",
        str(yolox_nano_path),
        "--max-frames",
        str(MAX_FRAMES),
        "--out",
        str(out),
        "--service-url",
        service.url,
        "--outbox",
        str(outbox),
    ]


def outbox_counts(path: Path) -> dict[str, int]:
    """Read another process's outbox without creating it."""
    if not path.exists():
        return {"pending": 0, "delivered": 0, "parked": 0}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        try:
            rows = db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        except sqlite3.OperationalError:  # table not created yet
            rows = []
    counts = {"pending": 0, "delivered": 0, "parked": 0}
    counts.update(dict(rows))
    return counts


def max_attempts(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        try:
            return db.execute("SELECT COALESCE(MAX(attempts), 0) FROM outbox").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
