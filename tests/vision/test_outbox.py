"""Outbox and publisher against a real local HTTP server whose answers each test scripts."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from autofine.contract import (
    INTAKE_PATH,
    EvidenceFile,
    IntakeResponse,
    ModelInfo,
    Redaction,
    ViolationRecord,
)
from vision.outbox import Outbox, OutboxSink, Publisher, PublisherConfig, classify_status

FAST = PublisherConfig(base_delay_s=0.02, max_delay_s=0.2, poll_interval_s=0.05, request_timeout_s=5)
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


# -- factories -----------------------------------------------------------------------------------------------


def make_record(
    tmp_path: Path, n: int, camera_id: str = "cam-test"
) -> tuple[ViolationRecord, dict[str, Path]]:
    """A valid record with one real JPEG-named file of unique bytes, and its file mapping."""
    folder = tmp_path / "evidence-src" / str(n)
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = folder / "snapshot.jpg"
    snapshot.write_bytes(b"\xff\xd8\xff\xe0" + f"snapshot {n}".encode() * 100 + b"\xff\xd9")
    data = snapshot.read_bytes()
    record = ViolationRecord(
        camera_id=camera_id,
        incident_id=f"jaywalking-{n:04d}",
        violation_type="jaywalking",
        onset=T0 + timedelta(seconds=n),
        confirmed_at=T0 + timedelta(seconds=n + 2),
        track_id=n,
        confidence=0.9,
        model=ModelInfo(id="yolox-nano", version="test", sha256="0" * 64),
        config_hash="1" * 64,
        software_version="test",
        redaction=Redaction(method="gaussian-blur", regions=0),
        evidence=[
            EvidenceFile(
                name="snapshot.jpg",
                kind="snapshot",
                media_type="image/jpeg",
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
            )
        ],
    )
    return record, {"snapshot.jpg": snapshot}


# -- a scriptable intake server ------------------------------------------------------------------------------


class IntakeServer:
    """Answers POST INTAKE_PATH with whatever `respond(n, key)` returns; records every request it saw."""

    def __init__(self, respond: Callable[[int, str], int], port: int = 0) -> None:
        self.respond = respond
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()
        self.in_flight = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.in_flight.set()
                server.release.wait(30)
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
                )
                parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
                record = json.loads(parts["record"].get_content())
                with server.lock:
                    n = len(server.requests)
                    server.requests.append(
                        {
                            "path": self.path,
                            "key": self.headers["Idempotency-Key"],
                            "auth": self.headers["Authorization"],
                            "record": record,
                            "files": {
                                k: p.get_payload(decode=True) for k, p in parts.items() if k != "record"
                            },
                        }
                    )
                status = server.respond(n, self.headers["Idempotency-Key"])
                if 200 <= status < 300:
                    payload = IntakeResponse(
                        violation_id=n + 1, fine_id=None, status="pending_review", duplicate=status == 200
                    ).model_dump_json()
                else:
                    payload = json.dumps({"detail": f"scripted {status}"})
                encoded = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def keys(self) -> list[str]:
        with self.lock:
            return [r["key"] for r in self.requests]

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., IntakeServer]]:
    servers: list[IntakeServer] = []

    def start(respond: Callable[[int, str], int], port: int = 0) -> IntakeServer:
        servers.append(IntakeServer(respond, port))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


# -- the outbox itself ---------------------------------------------------------------------------------------


def test_add_stores_a_durable_copy_once_per_idempotency_key(tmp_path: Path) -> None:
    record, files = make_record(tmp_path, 1)
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        assert outbox.add(record, files) is True
        assert outbox.add(record, files) is False
        files["snapshot.jpg"].unlink()  # the outbox owns a copy; the pipeline may delete its own
        entries = outbox.entries()
    assert len(entries) == 1
    entry = entries[0]
    assert entry.state == "pending"
    assert entry.idempotency_key == "cam-test:jaywalking-0001"
    assert entry.record() == record
    copied = entry.files()["snapshot.jpg"]
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == record.evidence[0].sha256
    # A new process (a restarted pipeline) sees the same row and still refuses the re-emitted incident.
    with Outbox(tmp_path / "outbox.sqlite3") as reopened:
        assert reopened.add(record, {"snapshot.jpg": copied}) is False
        assert reopened.counts() == {"pending": 1, "delivered": 0, "parked": 0}


def test_add_refuses_evidence_that_does_not_match_the_record(tmp_path: Path) -> None:
    record, files = make_record(tmp_path, 1)
    files["snapshot.jpg"].write_bytes(b"tampered")
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        with pytest.raises(ValueError, match="does not match the record"):
            outbox.add(record, files)
        with pytest.raises(ValueError, match="missing"):
            outbox.add(record, {})
        assert outbox.counts() == {"pending": 0, "delivered": 0, "parked": 0}
        assert list(outbox.files_root.iterdir()) == []  # no half-copied folder left behind


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (201, "delivered"),
        (200, "delivered"),
        (409, "delivered"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (400, "park"),
        (401, "park"),
        (403, "park"),
        (404, "park"),
        (413, "park"),
        (422, "park"),
    ],
)
def test_classify_status(status: int, outcome: str) -> None:
    assert classify_status(status) == outcome


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    config = PublisherConfig(base_delay_s=1, max_delay_s=30, jitter=0.5)
    import random

    rng = random.Random(7)
    for attempts, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 30), (20, 30)]:
        delays = [config.delay(attempts, rng) for _ in range(200)]
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays), (attempts, min(delays), max(delays))
        assert max(delays) - min(delays) > ceiling * 0.3  # really jittered
    assert PublisherConfig(jitter=0).delay(3) == 4


# -- the publisher against a real HTTP server ----------------------------------------------------------------


def test_5xx_is_retried_with_the_same_key_until_201(tmp_path: Path, serve) -> None:
    server = serve(lambda n, key: 500 if n < 3 else 201)
    record, files = make_record(tmp_path, 1)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add(record, files)
    with Publisher(outbox, service_url=server.url, token="secret-token", config=FAST):
        wait_for(lambda: outbox.counts()["delivered"] == 1)
    assert server.keys() == [record.idempotency_key] * 4
    first = server.requests[0]
    assert first["path"] == INTAKE_PATH
    assert first["auth"] == "Bearer secret-token"
    assert ViolationRecord.model_validate(first["record"]) == record
    assert first["files"]["snapshot.jpg"] == files["snapshot.jpg"].read_bytes()
    (entry,) = outbox.entries()
    assert entry.attempts == 4
    assert entry.http_status == 201
    assert entry.response() is not None and entry.response().status == "pending_review"
    assert not entry.files_dir.exists()  # the service holds the evidence now; the camera keeps no copy


def test_422_is_parked_with_its_error_and_not_retried_until_requeued(tmp_path: Path, serve) -> None:
    server = serve(lambda n, key: 422 if n == 0 else 201)
    record, files = make_record(tmp_path, 1)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add(record, files)
    publisher = Publisher(outbox, service_url=server.url, token="t", config=FAST).start()
    wait_for(lambda: outbox.counts()["parked"] == 1)
    time.sleep(10 * FAST.poll_interval_s)  # room for wrongful retries to happen
    assert len(server.keys()) == 1
    status = outbox.status()
    assert status.parked[0].http_status == 422
    assert "scripted 422" in status.parked[0].error
    assert outbox.entries()[0].files_dir.exists()  # kept for the human who retries it

    assert outbox.requeue_parked() == 1
    wait_for(lambda: outbox.counts()["delivered"] == 1)
    assert publisher.stop(drain_timeout_s=5) == 0
    assert server.keys() == [record.idempotency_key] * 2


def test_409_conflict_counts_as_delivered(tmp_path: Path, serve) -> None:
    server = serve(lambda n, key: 409)
    record, files = make_record(tmp_path, 1)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add(record, files)
    with Publisher(outbox, service_url=server.url, token="t", config=FAST):
        wait_for(lambda: outbox.counts()["delivered"] == 1)
    assert len(server.keys()) == 1


def test_unreachable_service_then_up_delivers_each_record_exactly_once(tmp_path: Path, serve) -> None:
    port = free_port()  # nothing listens here yet
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    publisher = Publisher(outbox, service_url=f"http://127.0.0.1:{port}", token="t", config=FAST).start()
    sink = OutboxSink(outbox, publisher)
    records = [make_record(tmp_path, n) for n in range(5)]
    for record, files in records:
        sink.emit(record, files)
    wait_for(lambda: outbox.status().max_attempts_pending >= 3)  # failed and backed off a few times
    assert outbox.counts()["pending"] == 5
    assert "ConnectError" in (outbox.status().last_error or "")

    server = serve(lambda n, key: 201, port=port)
    wait_for(lambda: outbox.counts()["delivered"] == 5)
    assert sink.close(drain_timeout_s=5) == 0
    assert sorted(server.keys()) == sorted(r.idempotency_key for r, _ in records)


def test_emit_returns_while_the_service_is_still_answering(tmp_path: Path, serve) -> None:
    server = serve(lambda n, key: 201)
    server.release.clear()  # every request hangs until the test releases it
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    sink = OutboxSink(outbox, Publisher(outbox, service_url=server.url, token="t", config=FAST).start())
    sink.emit(*make_record(tmp_path, 0))
    assert server.in_flight.wait(10)  # the publisher is now stuck inside a request
    for n in range(1, 6):  # the camera loop keeps going meanwhile
        sink.emit(*make_record(tmp_path, n))
    assert not server.release.is_set()
    assert outbox.counts() == {"pending": 6, "delivered": 0, "parked": 0}
    server.release.set()
    assert sink.close(drain_timeout_s=10) == 0
    assert outbox.counts()["delivered"] == 6
    assert len(server.keys()) == 6


def test_a_restarted_process_resumes_pending_rows(tmp_path: Path, serve) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as outbox:  # a pipeline that stored two records and died before sending
        for n in range(2):
            outbox.add(*make_record(tmp_path, n))
    server = serve(lambda n, key: 201)
    outbox = Outbox(path)
    assert Publisher(outbox, service_url=server.url, token="t", config=FAST).start().stop(5) == 0
    assert outbox.counts() == {"pending": 0, "delivered": 2, "parked": 0}
    assert len(server.keys()) == 2


def test_stop_gives_up_after_the_drain_timeout_and_keeps_rows_pending(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add(*make_record(tmp_path, 0))
    publisher = Publisher(outbox, service_url=f"http://127.0.0.1:{free_port()}", token="t", config=FAST)
    assert publisher.start().stop(drain_timeout_s=0.3) == 1
    assert outbox.entries()[0].attempts >= 1
    assert outbox.entries()[0].files_dir.exists()


def test_retry_now_makes_backed_off_rows_due(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add(*make_record(tmp_path, 0))
    entry = outbox.due()[0]
    outbox.mark_failed(entry.id, http_status=503, error="down", delay_s=3600)
    assert outbox.due() == []
    assert outbox.retry_now() == 1
    assert [e.idempotency_key for e in outbox.due()] == [entry.idempotency_key]


def test_a_row_whose_evidence_vanished_from_the_outbox_is_parked_not_retried(tmp_path: Path, serve) -> None:
    server = serve(lambda n, key: 201)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add(*make_record(tmp_path, 0))
    outbox.add(*make_record(tmp_path, 1))
    (outbox.entries()[0].files_dir / "snapshot.jpg").unlink()  # e.g. someone cleaned the folder by hand
    with Publisher(outbox, service_url=server.url, token="t", config=FAST):
        wait_for(lambda: outbox.counts() == {"pending": 0, "delivered": 1, "parked": 1})
    assert "evidence file missing" in outbox.status().parked[0].error
    assert server.keys() == ["cam-test:jaywalking-0001"]  # the healthy row was not held up


def test_folders_left_by_a_crash_inside_add_are_swept_when_old(tmp_path: Path) -> None:
    import os

    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as outbox:
        outbox.add(*make_record(tmp_path, 0))
        kept = outbox.entries()[0].files_dir
        old_tmp = outbox.files_root / ".tmp-deadbeef"  # killed while copying
        old_orphan = outbox.files_root / ("0" * 32)  # killed between rename and commit
        fresh_tmp = outbox.files_root / ".tmp-inprogress"  # another add may be copying right now
        for folder in (old_tmp, old_orphan, fresh_tmp):
            folder.mkdir()
            (folder / "snapshot.jpg").write_bytes(b"x")
        hour_ago = time.time() - 3600
        for folder in (old_tmp, old_orphan, kept):
            os.utime(folder, (hour_ago, hour_ago))
    with Outbox(path) as reopened:
        remaining = sorted(p.name for p in reopened.files_root.iterdir())
    assert remaining == sorted([kept.name, fresh_tmp.name])


# -- pruning delivered rows ----------------------------------------------------------------------------------

DAY = 86400.0


def fill_every_state(
    tmp_path: Path,
    outbox: Outbox,
    now: float,
    *,
    old: int = 3,
    recent: int = 3,
    pending: int = 3,
    parked: int = 3,
    keep_files: bool = True,
) -> dict[str, list[str]]:
    """Rows delivered 40 days before `now`, delivered 1 day before, pending (one backed off) and parked.
    Returns their idempotency keys by group."""
    groups = {"old": old, "recent": recent, "pending": pending, "parked": parked}
    keys: dict[str, list[str]] = {}
    n = 0
    for group, count in groups.items():
        keys[group] = []
        for _ in range(count):
            record, files = make_record(tmp_path, n)
            assert outbox.add(record, files)
            entry = outbox.entries()[-1]
            if group in ("old", "recent"):
                delivered_at = now - (40 if group == "old" else 1) * DAY
                outbox.mark_delivered(
                    entry.id, http_status=201, response_json=None, keep_files=keep_files, now=delivered_at
                )
            elif group == "parked":
                outbox.mark_parked(entry.id, http_status=422, error="scripted 422")
            elif n % 2:
                outbox.mark_failed(entry.id, http_status=503, error="down", delay_s=3600)
            keys[group].append(record.idempotency_key)
            n += 1
    return keys


def test_prune_removes_delivered_rows_past_retention_and_their_kept_evidence(tmp_path: Path) -> None:
    now = time.time()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    keys = fill_every_state(tmp_path, outbox, now)
    # One old row whose evidence was deleted at delivery (the default), beside old rows that kept theirs.
    extra, extra_files = make_record(tmp_path, 99)
    outbox.add(extra, extra_files)
    outbox.mark_delivered(outbox.entries()[-1].id, http_status=201, response_json=None, now=now - 40 * DAY)
    keys["old"].append(extra.idempotency_key)
    before = {e.idempotency_key: e for e in outbox.entries()}
    assert outbox.counts() == {"pending": 3, "delivered": 7, "parked": 3}
    old_folders = [before[k].files_dir for k in keys["old"]]
    assert [f.exists() for f in old_folders] == [True, True, True, False]

    assert outbox.prune_delivered(30 * DAY, now=now) == 4

    after = {e.idempotency_key: e for e in outbox.entries()}
    assert outbox.counts() == {"pending": 3, "delivered": 3, "parked": 3}
    assert sorted(after) == sorted(keys["recent"] + keys["pending"] + keys["parked"])
    for key in keys["pending"] + keys["parked"]:
        assert after[key] == before[key]  # untouched: same attempts, errors, retry times
    assert not any(f.exists() for f in old_folders)
    # Every surviving row keeps its evidence byte for byte, and nothing else is left in the evidence root.
    for entry in after.values():
        data = entry.files()["snapshot.jpg"].read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.record().evidence[0].sha256
    assert sorted(p.name for p in outbox.files_root.iterdir()) == sorted(
        e.files_dir.name for e in after.values()
    )
    assert len(after) == 9

    assert outbox.prune_delivered(30 * DAY, now=now) == 0  # nothing more is old enough
    # A month later the once-recent rows are past retention too; pending and parked still stay.
    assert outbox.prune_delivered(30 * DAY, now=now + 30 * DAY) == 3
    assert outbox.counts() == {"pending": 3, "delivered": 0, "parked": 3}
    assert len(list(outbox.files_root.iterdir())) == 6
    # With 0 days every delivered row goes, however recent.
    record, files = make_record(tmp_path, 100)
    outbox.add(record, files)
    outbox.mark_delivered(outbox.entries()[-1].id, http_status=201, response_json=None, now=now)
    assert outbox.prune_delivered(0, now=now + 1) == 1
    assert outbox.counts() == {"pending": 3, "delivered": 0, "parked": 3}


def test_prune_refuses_a_negative_age(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        for bad in (-1.0, float("nan")):
            with pytest.raises(ValueError, match="older_than_s"):
                outbox.prune_delivered(bad)
    with pytest.raises(ValueError, match="delivered_retention_days"):
        PublisherConfig(delivered_retention_days=-1)
    assert PublisherConfig().delivered_retention_days == 30


def test_a_replayed_record_is_accepted_again_once_its_delivered_row_is_pruned(tmp_path: Path) -> None:
    """Documented trade-off: after the retention period the outbox forgets a delivered key, so replaying the
    same footage stores and sends the incident again; the service answers that repeat 200 duplicate."""
    now = time.time()
    record, files = make_record(tmp_path, 1)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    assert outbox.add(record, files)
    outbox.mark_delivered(
        outbox.entries()[0].id, http_status=201, response_json=None, keep_files=True, now=now - 40 * DAY
    )
    assert outbox.add(record, files) is False  # within retention: a repeat
    assert outbox.prune_delivered(30 * DAY, now=now) == 1
    assert outbox.add(record, files) is True  # forgotten: stored again, pending
    (entry,) = outbox.entries()
    assert entry.state == "pending" and entry.attempts == 0
    assert entry.files()["snapshot.jpg"].read_bytes() == files["snapshot.jpg"].read_bytes()


def test_folders_left_by_a_crash_inside_prune_are_swept_at_any_age(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as outbox:
        outbox.add(*make_record(tmp_path, 0))
        pending_folder = outbox.entries()[0].files_dir
        leftover = outbox.files_root / ".pruned-0123456789abcdef"  # rows committed away, files not yet
        leftover.mkdir()
        (leftover / "snapshot.jpg").write_bytes(b"x")
    with Outbox(path) as reopened:
        assert sorted(reopened.files_root.iterdir()) == [pending_folder]


def test_publisher_prunes_on_start_and_delivers_the_pending_rows(tmp_path: Path, serve) -> None:
    server = serve(lambda n, key: 201)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    keys = fill_every_state(tmp_path, outbox, time.time(), old=2, recent=2, pending=2, parked=1)
    outbox.retry_now()
    publisher = Publisher(outbox, service_url=server.url, token="t", config=FAST).start()
    wait_for(lambda: outbox.counts() == {"pending": 0, "delivered": 4, "parked": 1})
    assert publisher.stop(drain_timeout_s=5) == 0
    assert publisher.pruned == 2
    assert sorted(server.keys()) == sorted(keys["pending"])
    delivered = [e.idempotency_key for e in outbox.entries("delivered")]
    assert sorted(delivered) == sorted(keys["recent"] + keys["pending"])


def test_publisher_prunes_at_start_not_on_every_pass(tmp_path: Path, serve) -> None:
    """With 0 days the start removes every delivered row; the rows this publisher then delivers stay,
    although the loop passes the prune check again after sending them (pruning is hourly)."""
    server = serve(lambda n, key: 201)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    keys = fill_every_state(tmp_path, outbox, time.time(), old=2, recent=2, pending=3, parked=2)
    outbox.retry_now()
    config = FAST.model_copy(update={"delivered_retention_days": 0})
    publisher = Publisher(outbox, service_url=server.url, token="t", config=config).start()
    wait_for(lambda: outbox.counts()["delivered"] == 3)
    assert publisher.stop(drain_timeout_s=5) == 0
    assert publisher.pruned == 4
    assert outbox.counts() == {"pending": 0, "delivered": 3, "parked": 2}
    assert sorted(e.idempotency_key for e in outbox.entries("delivered")) == sorted(keys["pending"])
