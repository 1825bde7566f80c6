"""Audit anchors: the chain head exported outside the database, so a rewritten chain is still caught.

Someone with write access to the database can edit an audit row and recompute every later hash; the chain then
verifies. An anchor is `(seq, hash, at)` of the chain head written where that person cannot reach (a
JSON-lines file on other storage, and a line in the system log). `verify_against_anchors` walks the chain and
checks each anchor: the entry at `seq` must still have the anchored hash. It reports the first broken link of
the chain itself and the last anchor that still holds, so one knows which entries are still provable.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api import audit
from api.db import utcnow
from api.models import AuditEntry, AuditHead

ANCHOR_FILE = "audit-anchors.jsonl"
log = logging.getLogger("autofine.audit.anchor")


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str

    def line(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": self.at}, sort_keys=True)


def anchor_path(anchor_dir: Path) -> Path:
    return Path(anchor_dir) / ANCHOR_FILE


def read_anchors(anchor_dir: Path) -> list[Anchor]:
    path = anchor_path(anchor_dir)
    if not path.is_file():
        return []
    anchors = []
    for n, text in enumerate(path.read_text().splitlines(), 1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
            anchors.append(Anchor(int(item["seq"]), str(item["hash"]), str(item["at"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not an anchor line ({exc})") from exc
    return anchors


def write_anchor(session: Session, *, anchor_dir: Path, now: datetime | None = None) -> Anchor | None:
    """Append the current chain head to the anchor file (fsync'd) and log it; None if nothing new since."""
    head = session.get(AuditHead, 1)
    if head is None or head.seq == 0:
        return None
    existing = read_anchors(anchor_dir)
    if existing and existing[-1].seq == head.seq and existing[-1].hash == head.hash:
        return None
    anchor = Anchor(head.seq, head.hash, (now or utcnow()).isoformat())
    path = anchor_path(anchor_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, (anchor.line() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("audit anchor %s", anchor.line())  # the external-log copy (journald/syslog collect it)
    return anchor


@dataclass(frozen=True)
class AnchoredVerifyResult:
    ok: bool
    entries: int
    anchors: int
    first_broken_seq: int | None
    reason: str | None
    last_good_anchor: Anchor | None
    first_bad_anchor: Anchor | None


def verify_against_anchors(session: Session, *, anchor_dir: Path) -> AnchoredVerifyResult:
    """The chain's own check plus every anchor; tampering before an anchor fails even if re-hashed."""
    chain = audit.verify(session)
    anchors = read_anchors(anchor_dir)
    last_good: Anchor | None = None
    first_bad: Anchor | None = None
    bad_reason: str | None = None
    for anchor in anchors:
        if chain.first_broken_seq is not None and anchor.seq >= chain.first_broken_seq:
            first_bad, bad_reason = anchor, "after the chain's first broken link"
            break
        entry = session.exec(select(AuditEntry).where(AuditEntry.seq == anchor.seq)).first()
        if entry is None:
            first_bad, bad_reason = anchor, f"entry {anchor.seq} is gone"
            break
        if entry.hash != anchor.hash:
            first_bad, bad_reason = anchor, f"entry {anchor.seq} no longer has the anchored hash"
            break
        last_good = anchor
    first_broken, reason = chain.first_broken_seq, chain.reason
    if first_bad is not None and first_broken is None:
        # The chain was recomputed: the rewrite lies after the last good anchor, at or before this one.
        start = last_good.seq + 1 if last_good else 1
        first_broken = start
        reason = (
            f"anchor at entry {first_bad.seq} ({first_bad.at}) does not match: {bad_reason}; the chain was "
            f"rewritten somewhere in entries {start}..{first_bad.seq}"
        )
    return AnchoredVerifyResult(
        ok=chain.ok and first_bad is None,
        entries=chain.entries,
        anchors=len(anchors),
        first_broken_seq=first_broken,
        reason=reason,
        last_good_anchor=last_good,
        first_bad_anchor=first_bad,
    )


class AnchorTask:
    """Writes an anchor every `interval` seconds in a daemon thread (started and stopped with the app)."""

    def __init__(self, engine: Engine, anchor_dir: Path, interval: float) -> None:
        self.engine, self.anchor_dir, self.interval = engine, Path(anchor_dir), interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> Anchor | None:
        with Session(self.engine) as session:
            return write_anchor(session, anchor_dir=self.anchor_dir)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a full disk must not take the service down; the next tick retries
                log.exception("writing the audit anchor failed")

    def start(self) -> None:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-anchor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            self.tick()  # a last anchor on shutdown
        except Exception:
            log.exception("writing the final audit anchor failed")
