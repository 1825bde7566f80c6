"""Append-only, hash-chained audit log.

Entry n stores `hash = sha256(prev_hash | seq | at | actor | action | target | data)` with `prev_hash` = the
hash of entry n-1. Changing, inserting or deleting any row breaks the chain from that row on; `verify` names
the first broken link. Writers serialise on the single `AuditHead` row (an UPDATE takes the write lock on
SQLite and a row lock on PostgreSQL, held to commit), so `seq` has no gaps and no two entries share a
predecessor — also across several service worker processes (tests/api/test_multiworker.py).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from importlib import import_module
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.db import utcnow
from api.models import AuditEntry, AuditHead, AuditVerifyResult

GENESIS = "0" * 64


def canonical_json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    *, prev_hash: str, seq: int, at: datetime, actor: str, action: str, target: str, data: str
) -> str:
    text = "|".join([prev_hash, str(seq), at.isoformat(), actor, action, target, data])
    return hashlib.sha256(text.encode()).hexdigest()


def ensure_head(session: Session) -> None:
    """Create the chain head once. Two workers may race here on a fresh database: INSERT … ON CONFLICT DO
    NOTHING lets the database pick one, where a plain INSERT would fail the loser's intake."""
    if session.get(AuditHead, 1) is not None:
        return
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        module = import_module(f"sqlalchemy.dialects.{dialect}")
        statement = module.insert(AuditHead).values(id=1, seq=0, hash=GENESIS).on_conflict_do_nothing()
        session.execute(statement)
    else:
        session.add(AuditHead(id=1, seq=0, hash=GENESIS))
    session.flush()


def record(
    *, session: Session, actor: str, action: str, target: str, data: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry inside the caller's transaction (committed with the change it describes)."""
    ensure_head(session)
    # Take the lock first (UPDATE), then read the head we now own.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = session.exec(
        select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    ).one()
    seq = head.seq
    at = utcnow()
    text = canonical_json(data or {})
    digest = entry_hash(
        prev_hash=head.hash, seq=seq, at=at, actor=actor, action=action, target=target, data=text
    )
    entry = AuditEntry(
        seq=seq, at=at, actor=actor, action=action, target=target, data=text, prev_hash=head.hash, hash=digest
    )
    session.add(entry)
    head.hash = digest
    session.add(head)
    session.flush()
    return entry


def verify(session: Session, *, batch: int = 5000) -> AuditVerifyResult:
    """Walk the chain in order; report the first entry whose link or hash does not hold."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return AuditVerifyResult(
                    ok=False,
                    entries=count,
                    first_broken_seq=expected_seq,
                    reason=f"entry {expected_seq} missing",
                )
            if entry.prev_hash != prev:
                return AuditVerifyResult(
                    ok=False, entries=count, first_broken_seq=entry.seq, reason="prev_hash does not match"
                )
            digest = entry_hash(
                prev_hash=entry.prev_hash,
                seq=entry.seq,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                data=entry.data,
            )
            if digest != entry.hash:
                return AuditVerifyResult(
                    ok=False,
                    entries=count,
                    first_broken_seq=entry.seq,
                    reason="content does not match its hash",
                )
            prev = entry.hash
            expected_seq += 1
            count += 1
            last_seq = entry.seq
    head = session.get(AuditHead, 1)
    if head is not None and head.seq != count:
        return AuditVerifyResult(
            ok=False, entries=count, first_broken_seq=count + 1, reason=f"head says {head.seq} entries"
        )
    if head is not None and count and head.hash != prev:
        return AuditVerifyResult(
            ok=False, entries=count, first_broken_seq=count, reason="head hash does not match the last entry"
        )
    return AuditVerifyResult(ok=True, entries=count)


def trail(session: Session, *, targets: list[str], limit: int = 500) -> list[AuditEntry]:
    """Entries about the given targets (e.g. `fine:7`, `violation:7`), oldest first — a case's audit trail."""
    if not targets:
        return []
    return list(
        session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.target).in_(targets))
            .order_by(AuditEntry.seq)
            .limit(limit)
        ).all()
    )
