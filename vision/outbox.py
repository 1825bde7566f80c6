"""Durable delivery from a camera to the fine service: a SQLite outbox and a background publisher.

`Outbox.add` is the point of no return for a confirmed violation: the evidence files are copied into the
outbox's own folder (written to a temporary folder, fsynced, then renamed into place) and the record row is
committed (WAL, `synchronous=FULL`). Rows are keyed by the record's idempotency key, so a restarted pipeline
that re-emits the same incident adds nothing.

`Publisher` runs in a thread beside the camera loop and posts pending rows to the service. It marks a row
delivered only on 2xx (201 new, 200 duplicate) or 409 (the service already has it); 5xx, timeouts and
connection errors are retried with exponential backoff and jitter; any other 4xx parks the row with the
error text for a human (`autofine outbox status`, then `autofine outbox retry --parked`).

Delivered rows are receipts: the publisher deletes them (and any evidence still kept for them) once they are
older than `PublisherConfig.delivered_retention_days`, when it starts and then once an hour
(`Outbox.prune_delivered`, also `autofine outbox prune`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from autofine.contract import INTAKE_PATH, IntakeResponse, ViolationRecord
from autofine.errors import UserError

if TYPE_CHECKING:
    from vision.scene import DeliveryConfig

log = logging.getLogger(__name__)

State = Literal["pending", "delivered", "parked"]
STATES: tuple[State, ...] = ("pending", "delivered", "parked")
Outcome = Literal["delivered", "retry", "park"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    camera_id TEXT NOT NULL,
    violation_type TEXT NOT NULL,
    record_json TEXT NOT NULL,
    files_dir TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'parked')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_attempt_at REAL,
    last_error TEXT,
    http_status INTEGER,
    delivered_at REAL,
    response_json TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at, id);
"""

# Transient 4xx: the request itself is fine, the service asks us to come back later.
_RETRYABLE_4XX = frozenset({408, 425, 429})

# Evidence folders of pruned rows are renamed to this prefix inside the pruning transaction, then deleted.
_PRUNED_PREFIX = ".pruned-"
PRUNE_INTERVAL_S = 3600.0  # a running publisher prunes at start, then at most this often
MAX_RETENTION_DAYS = 3650.0


def outbox_dir() -> Path:
    """Where camera outboxes live by default: `AUTOFINE_OUTBOX_DIR`, else `<AUTOFINE_DATA_DIR>/outbox`
    (`~/.local/share/autofine/outbox`). Kept out of the cache dir on purpose: clearing a cache must never
    drop undelivered violations."""
    if os.environ.get("AUTOFINE_OUTBOX_DIR"):
        return Path(os.environ["AUTOFINE_OUTBOX_DIR"]).expanduser()
    data_dir = os.environ.get("AUTOFINE_DATA_DIR") or Path.home() / ".local" / "share" / "autofine"
    return Path(data_dir).expanduser() / "outbox"


def default_outbox_path(camera_id: str) -> Path:
    return outbox_dir() / f"{camera_id}.sqlite3"


def classify_status(status_code: int) -> Outcome:
    """What a publisher does with an HTTP answer from the intake endpoint."""
    if 200 <= status_code < 300 or status_code == 409:
        return "delivered"
    if status_code >= 500 or status_code in _RETRYABLE_4XX:
        return "retry"
    return "park"


class PublisherConfig(BaseModel):
    """How the publisher talks to the service and how patiently it retries."""

    model_config = ConfigDict(extra="forbid")

    base_delay_s: float = Field(default=1.0, gt=0, le=600, description="First retry delay after a failure.")
    max_delay_s: float = Field(default=60.0, gt=0, le=3600, description="Retry delays grow up to this cap.")
    jitter: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Fraction of each delay that is randomised (0 = fixed delays, 1 = full jitter).",
    )
    request_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="Per-request timeout (connect, read, write)."
    )
    poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often an idle publisher re-reads the outbox (picks up `autofine outbox retry`).",
    )
    keep_delivered_evidence: bool = Field(
        default=False,
        description="Keep evidence on the camera after the service confirmed receipt (default: delete it).",
    )
    delivered_retention_days: float = Field(
        default=30.0,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days a delivered row (its record JSON, plus its evidence when keep_delivered_evidence) "
        "stays in the outbox after the service confirmed it. The publisher deletes older delivered rows when "
        "it starts and then once an hour; 0 = delete every delivered row at that next pass (so a delivered "
        "row lives at most about an hour). Pending and parked rows are never deleted.",
    )

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Backoff before the next try after `attempts` failed tries (exponential, capped, jittered)."""
        raw = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))
        r = (rng or random).random()
        return raw * (1 - self.jitter * r)


@dataclass(frozen=True)
class OutboxEntry:
    """One row of the outbox."""

    id: int
    idempotency_key: str
    camera_id: str
    violation_type: str
    record_json: str
    files_dir: Path
    state: State
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    http_status: int | None
    response_json: str | None

    def record(self) -> ViolationRecord:
        return ViolationRecord.model_validate_json(self.record_json)

    def files(self) -> dict[str, Path]:
        return {ev.name: self.files_dir / ev.name for ev in self.record().evidence}

    def response(self) -> IntakeResponse | None:
        if not self.response_json:
            return None
        try:
            return IntakeResponse.model_validate_json(self.response_json)
        except ValueError:
            return None


@dataclass(frozen=True)
class ParkedEntry:
    idempotency_key: str
    http_status: int | None
    error: str


@dataclass(frozen=True)
class OutboxStatus:
    """What `autofine outbox status` shows."""

    path: Path
    counts: Mapping[str, int]
    oldest_pending_at: datetime | None
    next_attempt_at: datetime | None
    max_attempts_pending: int
    last_error: str | None
    parked: tuple[ParkedEntry, ...]
    # IntakeResponse.status of the delivered rows at delivery time, e.g. auto_issued / pending_review
    service_status: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Outbox:
    """A durable, idempotent queue of violation records and their evidence files, in one SQLite file.

    Safe to share between the camera thread and the publisher thread, and to open from another process
    (`autofine outbox status`) while a pipeline runs.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().resolve()
        self.files_root = self.path.with_name(self.path.name + ".evidence")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.files_root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._transaction() as db:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
        self._sweep_orphans()

    def _sweep_orphans(self, min_age_s: float = 600.0) -> None:
        """Remove evidence folders no row refers to: those left by a crash inside `add`, once they are old
        enough that no live `add` can still be working on them, and those of pruned rows at any age."""
        with self._lock:
            known = {row[0] for row in self._db.execute("SELECT files_dir FROM outbox")}
        cutoff = time.time() - min_age_s
        for folder in self.files_root.iterdir():
            try:
                if folder.name not in known and (
                    folder.name.startswith(_PRUNED_PREFIX) or folder.stat().st_mtime < cutoff
                ):
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue

    # -- plumbing -------------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _entry(self, row: sqlite3.Row) -> OutboxEntry:
        return OutboxEntry(
            id=row["id"],
            idempotency_key=row["idempotency_key"],
            camera_id=row["camera_id"],
            violation_type=row["violation_type"],
            record_json=row["record_json"],
            files_dir=self.files_root / row["files_dir"],
            state=row["state"],
            attempts=row["attempts"],
            created_at=_ts(row["created_at"]),  # type: ignore[arg-type]
            next_attempt_at=_ts(row["next_attempt_at"]),  # type: ignore[arg-type]
            last_error=row["last_error"],
            http_status=row["http_status"],
            response_json=row["response_json"],
        )

    # -- writing --------------------------------------------------------------------------------------------

    def contains(self, idempotency_key: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM outbox WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
        return row is not None

    def add(self, record: ViolationRecord, files: Mapping[str, Path]) -> bool:
        """Store a record and copies of its evidence durably. False if its idempotency key is already here.

        `files` maps each `record.evidence[i].name` to a file; each file must match the size and sha256 the
        record declares (a mismatch is a bug upstream and raises `ValueError`, storing nothing).
        """
        key = record.idempotency_key
        if self.contains(key):
            return False
        declared = {ev.name: ev for ev in record.evidence}
        missing = sorted(set(declared) - set(files))
        extra = sorted(set(files) - set(declared))
        if missing or extra:
            raise ValueError(f"evidence files do not match the record: missing {missing}, undeclared {extra}")

        tmp = self.files_root / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            for name, ev in declared.items():
                digest, size = _copy_durably(Path(files[name]), tmp / name)
                if digest != ev.sha256 or size != ev.size:
                    raise ValueError(
                        f"evidence {name!r} does not match the record: sha256 {digest} size {size}, "
                        f"record says sha256 {ev.sha256} size {ev.size}"
                    )
            _fsync_dir(tmp)
            dir_name = hashlib.sha256(key.encode()).hexdigest()[:32]
            final = self.files_root / dir_name
            now = time.time()
            with self._transaction() as db:
                if db.execute("SELECT 1 FROM outbox WHERE idempotency_key = ?", (key,)).fetchone():
                    return False
                if final.exists():  # left by a crash between the rename and the commit
                    shutil.rmtree(final)
                os.replace(tmp, final)
                _fsync_dir(self.files_root)
                try:
                    db.execute(
                        "INSERT INTO outbox (idempotency_key, camera_id, violation_type, record_json,"
                        " files_dir, state, created_at, next_attempt_at)"
                        " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                        (
                            key,
                            record.camera_id,
                            record.violation_type,
                            record.model_dump_json(),
                            dir_name,
                            now,
                            now,
                        ),
                    )
                except BaseException:
                    shutil.rmtree(final, ignore_errors=True)
                    raise
            return True
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def mark_delivered(
        self,
        entry_id: int,
        *,
        http_status: int,
        response_json: str | None,
        keep_files: bool = False,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        with self._transaction() as db:
            row = db.execute("SELECT files_dir FROM outbox WHERE id = ?", (entry_id,)).fetchone()
            db.execute(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_attempt_at = ?,"
                " delivered_at = ?, http_status = ?, response_json = ?, last_error = NULL WHERE id = ?",
                (now, now, http_status, response_json, entry_id),
            )
        if row is not None and not keep_files:
            # Privacy: the service holds the evidence now; the camera keeps only the record.
            shutil.rmtree(self.files_root / row["files_dir"], ignore_errors=True)

    def mark_parked(self, entry_id: int, *, http_status: int | None, error: str) -> None:
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'parked', attempts = attempts + 1, last_attempt_at = ?,"
                " http_status = ?, last_error = ? WHERE id = ?",
                (now, http_status, error[:4000], entry_id),
            )

    def mark_failed(self, entry_id: int, *, http_status: int | None, error: str, delay_s: float) -> None:
        """A transient failure: this row and every due row wait `delay_s` (the service is likely down)."""
        now = time.time()
        retry_at = now + delay_s
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, http_status = ?,"
                " last_error = ?, next_attempt_at = ? WHERE id = ?",
                (now, http_status, error[:4000], retry_at, entry_id),
            )
            db.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at < ?",
                (retry_at, retry_at),
            )

    def retry_now(self) -> int:
        """Make every pending row due now (a running publisher picks them up within its poll interval)."""
        with self._transaction() as db:
            return db.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending'", (time.time(),)
            ).rowcount

    def requeue_parked(self) -> int:
        """Move parked rows back to pending, due now (after a human fixed the cause, e.g. the token)."""
        with self._transaction() as db:
            return db.execute(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE state = 'parked'",
                (time.time(),),
            ).rowcount

    def prune_delivered(self, older_than_s: float, *, now: float | None = None) -> int:
        """Delete delivered rows confirmed more than `older_than_s` before `now`, and the evidence the outbox
        still keeps for them (`keep_delivered_evidence`). Pending and parked rows are never touched. Returns
        how many rows went.

        The service is the system of record once it acknowledged a row. Without the row, `add` accepts the
        same idempotency key again (a replayed file source); the service answers that repeat 200 duplicate
        or 409, so it costs one request and creates nothing twice.
        """
        if not older_than_s >= 0:  # also refuses NaN
            raise ValueError(f"older_than_s must be >= 0, got {older_than_s}")
        cutoff = (time.time() if now is None else now) - older_than_s
        with self._transaction() as db:
            rows = db.execute(
                "SELECT files_dir FROM outbox WHERE state = 'delivered' AND delivered_at < ?", (cutoff,)
            ).fetchall()
            # Renamed, not deleted, while the write lock is held: once the rows are gone, an `add` of the
            # same key (here or in another process) gets a fresh folder that this prune cannot touch.
            for row in rows:
                try:
                    os.replace(
                        self.files_root / row["files_dir"],
                        self.files_root / f"{_PRUNED_PREFIX}{uuid.uuid4().hex}",
                    )
                except FileNotFoundError:  # the usual case: evidence deleted at delivery
                    continue
            removed = db.execute(
                "DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < ?", (cutoff,)
            ).rowcount
        # Rows first, files second: a crash here leaves only `.pruned-*` folders, which every sweep deletes.
        self._sweep_orphans()
        return removed

    # -- reading --------------------------------------------------------------------------------------------

    def due(self, limit: int = 16, now: float | None = None) -> list[OutboxEntry]:
        """Pending rows whose retry time has come, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id LIMIT ?",
                (time.time() if now is None else now, limit),
            ).fetchall()
        return [self._entry(r) for r in rows]

    def next_due_at(self) -> float | None:
        """Unix time when the next pending row is due, or None when nothing is pending."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'"
            ).fetchone()
        return row[0]

    def entries(self, state: State | None = None) -> list[OutboxEntry]:
        with self._lock:
            if state is None:
                rows = self._db.execute("SELECT * FROM outbox ORDER BY id").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM outbox WHERE state = ? ORDER BY id", (state,)
                ).fetchall()
        return [self._entry(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        counts = dict.fromkeys(STATES, 0)
        counts.update({state: n for state, n in rows})
        return counts

    def status(self) -> OutboxStatus:
        with self._lock:
            pending = self._db.execute(
                "SELECT MIN(created_at), MIN(next_attempt_at), MAX(attempts) FROM outbox"
                " WHERE state = 'pending'"
            ).fetchone()
            last_error = self._db.execute(
                "SELECT last_error FROM outbox WHERE state = 'pending' AND last_error IS NOT NULL"
                " ORDER BY last_attempt_at DESC LIMIT 1"
            ).fetchone()
            parked = self._db.execute(
                "SELECT idempotency_key, http_status, last_error FROM outbox"
                " WHERE state = 'parked' ORDER BY id"
            ).fetchall()
        service_status: dict[str, int] = {}
        for entry in self.entries("delivered"):
            response = entry.response()
            label = response.status if response else f"http {entry.http_status}"
            service_status[label] = service_status.get(label, 0) + 1
        return OutboxStatus(
            path=self.path,
            counts=self.counts(),
            oldest_pending_at=_ts(pending[0]),
            next_attempt_at=_ts(pending[1]),
            max_attempts_pending=pending[2] or 0,
            last_error=last_error[0] if last_error else None,
            parked=tuple(ParkedEntry(r[0], r[1], r[2] or "") for r in parked),
            service_status=service_status,
        )


def _copy_durably(src: Path, dst: Path) -> tuple[str, int]:
    """Copy `src` to `dst`, fsync it, and return (sha256, size) of what was written."""
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest(), size


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    http_status: int | None
    detail: str  # response body (delivered) or error text


class Publisher:
    """Sends pending outbox rows to the service from a background thread.

    `start()` launches the thread; `wake()` tells it a new row is waiting; `stop(drain_timeout_s)` lets it
    deliver what is pending for up to that long, then ends it. Rows not delivered stay pending for the
    next start (of this process or a restarted one).
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        service_url: str,
        token: str,
        config: PublisherConfig | None = None,
        transport: httpx.BaseTransport | None = None,
        on_result: Callable[[OutboxEntry, SendResult], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.service_url = service_url.rstrip("/")
        self.config = config or PublisherConfig()
        self._token = token
        self._transport = transport
        self._on_result = on_result
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_deadline: float | None = None
        self._thread: threading.Thread | None = None
        self._rng = random.Random()
        self.sent = 0
        self.failures = 0
        self.pruned = 0
        self._next_prune_at: float | None = None  # time.monotonic(); None = prune on the first pass

    @property
    def intake_url(self) -> str:
        return self.service_url + INTAKE_PATH

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> Publisher:
        if self._thread is not None:
            raise RuntimeError("publisher already started")
        self._thread = threading.Thread(target=self._run, name="autofine-publisher", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, drain_timeout_s: float = 10.0) -> int:
        """Deliver pending rows for up to `drain_timeout_s`, then stop. Returns how many remain pending."""
        if self._thread is not None:
            if drain_timeout_s > 0:
                self.outbox.retry_now()  # one more try for rows in backoff: the service may be back by now
            self._drain_deadline = time.monotonic() + max(0.0, drain_timeout_s)
            self._stop.set()
            self._wake.set()
            self._thread.join(drain_timeout_s + self.config.request_timeout_s + 5)
            self._thread = None
        return self.outbox.counts()["pending"]

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}", "User-Agent": "autofine-camera"}
        timeout = httpx.Timeout(self.config.request_timeout_s)
        with httpx.Client(headers=headers, timeout=timeout, transport=self._transport) as client:
            while True:
                if self._stop.is_set() and (
                    self._drain_deadline is None or time.monotonic() >= self._drain_deadline
                ):
                    return
                self._wake.clear()
                try:
                    self._prune_if_due()
                    if self._pass(client):
                        return
                except Exception:  # the thread must outlive surprises (disk, locks); rows stay pending
                    log.exception("publisher pass failed; retrying in %.1fs", self.config.poll_interval_s)
                    self._sleep_until(None)

    def _pass(self, client: httpx.Client) -> bool:
        """Send the due rows, or sleep until one is due. True when a drain is finished."""
        batch = self.outbox.due()
        if not batch:
            next_due = self.outbox.next_due_at()
            if self._stop.is_set() and next_due is None:
                return True
            self._sleep_until(next_due)
            return False
        for entry in batch:
            if self._stop.is_set() and time.monotonic() >= (self._drain_deadline or 0):
                return True
            result = self.send(client, entry)
            self._record(entry, result)
            if result.outcome == "retry":
                break  # everything else waits out the backoff too
        return False

    def _prune_if_due(self) -> None:
        """Delete delivered rows past their retention: on the first pass, then at most once an hour."""
        now = time.monotonic()
        if self._next_prune_at is not None and now < self._next_prune_at:
            return
        self._next_prune_at = now + PRUNE_INTERVAL_S  # set first: a failing prune is not retried every pass
        removed = self.outbox.prune_delivered(self.config.delivered_retention_days * 86400.0)
        self.pruned += removed
        if removed:
            log.info(
                "pruned %d delivered row(s) older than %g days from %s",
                removed,
                self.config.delivered_retention_days,
                self.outbox.path,
            )

    def _sleep_until(self, next_due: float | None) -> None:
        wait = self.config.poll_interval_s
        if next_due is not None:
            wait = min(wait, max(0.0, next_due - time.time()))
        if self._drain_deadline is not None:
            wait = min(wait, max(0.0, self._drain_deadline - time.monotonic()))
        self._wake.wait(wait)

    def send(self, client: httpx.Client, entry: OutboxEntry) -> SendResult:
        """One POST of one row. Never raises for network or HTTP problems: they become a `SendResult`."""
        try:
            record = entry.record()
            handles = []
            try:
                files = []
                for ev in record.evidence:
                    handle = open(entry.files_dir / ev.name, "rb")  # noqa: SIM115 - closed below
                    handles.append(handle)
                    files.append((ev.name, (ev.name, handle, ev.media_type)))
                response = client.post(
                    self.intake_url,
                    data={"record": entry.record_json},
                    files=files,
                    headers={"Idempotency-Key": entry.idempotency_key},
                )
            finally:
                for handle in handles:
                    handle.close()
        except FileNotFoundError as exc:
            return SendResult("park", None, f"evidence file missing from the outbox: {exc.filename}")
        except httpx.HTTPError as exc:
            return SendResult("retry", None, f"{type(exc).__name__}: {exc}")
        except ValueError as exc:  # the stored record no longer validates: a human must look
            return SendResult("park", None, f"record in the outbox is invalid: {exc}")
        except OSError as exc:  # reading the evidence failed for a reason other than it missing
            return SendResult("retry", None, f"{type(exc).__name__}: {exc}")
        outcome = classify_status(response.status_code)
        return SendResult(outcome, response.status_code, response.text[:4000])

    def _record(self, entry: OutboxEntry, result: SendResult) -> None:
        if result.outcome == "delivered":
            self.outbox.mark_delivered(
                entry.id,
                http_status=result.http_status or 0,
                response_json=result.detail,
                keep_files=self.config.keep_delivered_evidence,
            )
            self.sent += 1
            log.info("delivered %s (HTTP %s)", entry.idempotency_key, result.http_status)
        elif result.outcome == "park":
            self.outbox.mark_parked(entry.id, http_status=result.http_status, error=result.detail)
            log.warning(
                "parked %s: HTTP %s %s", entry.idempotency_key, result.http_status, result.detail[:200]
            )
        else:
            self.failures += 1
            delay = self.config.delay(entry.attempts + 1, self._rng)
            self.outbox.mark_failed(
                entry.id, http_status=result.http_status, error=result.detail, delay_s=delay
            )
            log.info(
                "delivery of %s failed (%s), retrying in %.1fs",
                entry.idempotency_key,
                result.http_status or result.detail[:120],
                delay,
            )
        if self._on_result is not None:
            self._on_result(entry, result)


class OutboxSink:
    """The pipeline's delivery sink: `emit` stores durably and returns; the publisher sends beside it."""

    def __init__(
        self, outbox: Outbox, publisher: Publisher | None = None, *, owns_outbox: bool = False
    ) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self._owns_outbox = owns_outbox
        self.stored = 0
        self.repeats = 0
        self.final_counts: dict[str, int] | None = None

    def emit(self, record: ViolationRecord, files: Mapping[str, Path]) -> None:
        if self.outbox.add(record, files):
            self.stored += 1
        else:
            self.repeats += 1  # re-emitted after a restart: already stored (and maybe delivered)
        if self.publisher is not None:
            self.publisher.wake()

    def close(self, drain_timeout_s: float = 10.0) -> int:
        """Stop the publisher after draining for up to `drain_timeout_s`; returns rows left pending."""
        pending = (
            self.publisher.stop(drain_timeout_s)
            if self.publisher is not None
            else self.outbox.counts()["pending"]
        )
        self.final_counts = self.outbox.counts()
        if self._owns_outbox:
            self.outbox.close()
        return pending


def resolve_token(delivery: DeliveryConfig) -> str:
    """The camera token from the config, or from the environment variable it names."""
    if delivery.token:
        return delivery.token
    env = delivery.token_env or "AUTOFINE_CAMERA_TOKEN"
    token = os.environ.get(env)
    if not token:
        raise UserError(
            f"delivery to {delivery.service_url} needs a camera token: set ${env} "
            "(get one with `autofine admin register-camera CAMERA_ID`) or delivery.token in the config"
        )
    return token


def check_delivery(delivery: DeliveryConfig) -> str:
    """Fail early (before a model is loaded) on a bad service URL or a missing token; returns the token."""
    if not delivery.service_url.startswith(("http://", "https://")):
        raise UserError(f"delivery.service_url {delivery.service_url!r} must start with http:// or https://")
    return resolve_token(delivery)


def sink_for_delivery(
    delivery: DeliveryConfig,
    *,
    camera_id: str,
    config: PublisherConfig | None = None,
    on_result: Callable[[OutboxEntry, SendResult], None] | None = None,
) -> OutboxSink:
    """Open the camera's outbox, start its publisher, and return the sink the pipeline emits into.

    Rows left pending by an earlier run (a crash, the service down) are sent first, as soon as this starts.
    """
    token = check_delivery(delivery)
    path = delivery.outbox_path or default_outbox_path(camera_id)
    try:
        outbox = Outbox(path)
    except (OSError, sqlite3.Error) as exc:
        raise UserError(
            f"cannot open the outbox {path}: {exc}; set delivery.outbox_path to a writable file"
        ) from exc
    publisher = Publisher(
        outbox, service_url=delivery.service_url, token=token, config=config, on_result=on_result
    )
    return OutboxSink(outbox, publisher.start(), owns_outbox=True)
