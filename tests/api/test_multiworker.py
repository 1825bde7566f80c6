"""Several service worker processes against one PostgreSQL: the database, not a worker's memory, decides.

Two real `autofine serve` processes on two loopback ports share one PostgreSQL schema (and one evidence
folder). The same violation posted to both at the same moment becomes one fine; many concurrent intakes
spread over both workers leave one audit chain that verifies end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, func, select

from api import audit
from api.bootstrap import ensure_camera, open_engine
from api.models import AuditEntry, Fine, Violation
from api.settings import Settings
from tests.api.conftest import SECRET, make_record
from tests.e2e.conftest import free_port, wait_for

PG_URL = os.environ.get("AUTOFINE_TEST_PG_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs AUTOFINE_TEST_PG_URL (scripts/start-postgres.sh)"),
    pytest.mark.timeout(300),
]
AUTOFINE = [sys.executable, "-c", "from autofine.cli import main; main()"]
CAMERA = "cam-mw"


class Workers:
    def __init__(self, urls: list[str], token: str, db_url: str) -> None:
        self.urls = urls
        self.token = token
        self.db_url = db_url

    def post(self, url: str, record: dict, files: dict[str, bytes]) -> httpx.Response:
        return httpx.post(
            f"{url}/api/v1/intake/violations",
            data={"record": json.dumps(record)},
            files={name: (name, data, "image/jpeg") for name, data in files.items()},
            headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": "x"},
            timeout=60,
        )


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    tmp = tmp_path_factory.mktemp("multiworker")
    schema = "mw_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    db_url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    # The camera and its token exist before the workers start; the workers migrate concurrently (no-op).
    settings = Settings(data_dir=tmp, database_url=db_url, secret_key=SECRET)
    engine = open_engine(settings)
    with Session(engine) as session:
        token = ensure_camera(session, camera_id=CAMERA)
    engine.dispose()
    env = dict(os.environ)
    env.update(
        AUTOFINE_DATA_DIR=str(tmp),
        AUTOFINE_DATABASE_URL=db_url,
        AUTOFINE_SECRET_KEY=SECRET,
        AUTOFINE_REQUIRE_SIGNATURES="false",  # unsigned test records; signatures are tested elsewhere
        PYTHONUNBUFFERED="1",
    )
    processes, urls = [], []
    for n in range(2):
        port = free_port()
        log = open(tmp / f"worker{n}.log", "wb")  # noqa: SIM115 - the child owns it
        processes.append(
            subprocess.Popen([*AUTOFINE, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
        )
        urls.append(f"http://127.0.0.1:{port}")

    def healthy(url: str) -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        for url, process in zip(urls, processes, strict=True):
            wait_for(lambda u=url, p=process: p.poll() is None and healthy(u), 90, f"worker {url}")
        yield Workers(urls, token, db_url)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_same_violation_on_two_workers_at_once_is_one_fine(workers: Workers, snapshot_bytes: bytes) -> None:
    files = {"snapshot.jpg": snapshot_bytes}
    rounds = 12
    statuses: list[tuple[int, int]] = []
    keys = []
    for _ in range(rounds):
        record = make_record(files=files, camera_id=CAMERA)
        keys.append(f"{CAMERA}:{record['incident_id']}")
        barrier = threading.Barrier(2)

        def send(url: str, record: dict = record, barrier: threading.Barrier = barrier) -> httpx.Response:
            barrier.wait()
            return workers.post(url, record, files)

        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(send, workers.urls)
        statuses.append((a.status_code, b.status_code))
        assert sorted(statuses[-1]) == [200, 201], (a.text, b.text)
        assert a.json()["fine_id"] == b.json()["fine_id"]
        assert {a.json()["duplicate"], b.json()["duplicate"]} == {True, False}

    engine = create_engine(workers.db_url)
    with Session(engine) as session:
        for key in keys:
            violations = session.exec(select(Violation).where(Violation.idempotency_key == key)).all()
            assert len(violations) == 1
            fines = session.exec(select(Fine).where(Fine.violation_id == violations[0].id)).all()
            assert len(fines) == 1
    engine.dispose()
    assert len(statuses) == rounds


def test_concurrent_intakes_across_workers_keep_one_audit_chain(
    workers: Workers, snapshot_bytes: bytes
) -> None:
    files = {"snapshot.jpg": snapshot_bytes}
    engine = create_engine(workers.db_url)
    with Session(engine) as session:
        before = session.exec(select(func.count()).select_from(AuditEntry)).one()
    posts = 48

    def send(n: int) -> int:
        record = make_record(files=files, camera_id=CAMERA)
        return workers.post(workers.urls[n % 2], record, files).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(send, range(posts)))
    assert codes == [201] * posts

    with Session(engine) as session:
        result = audit.verify(session)
        entries = session.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()
    engine.dispose()
    assert result.ok, result
    assert len(entries) >= before + posts  # one `intake` entry per new violation, maybe auto_issue too
    assert result.entries == len(entries)
    assert len({e.prev_hash for e in entries}) == len(entries)  # never forked: no two share a predecessor
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
