from __future__ import annotations

from sqlalchemy import text
from sqlmodel import select

from api import audit
from api.models import AuditEntry


def _activity(client, actors, new_case) -> None:
    for _ in range(2):
        fine_id = new_case()
        client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=actors.reviewer)
        client.post(
            f"/api/v1/review/cases/{fine_id}/decision", headers=actors.reviewer, json={"action": "confirm"}
        )


def test_chain_verifies_after_activity(client, actors, new_case, session):
    _activity(client, actors, new_case)
    result = client.get("/api/v1/admin/audit/verify", headers=actors.admin).json()
    entries = session.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert len(entries) >= 10  # 3 users + camera + 2 x (intake, claim, decision)
    assert result == {"ok": True, "entries": len(entries), "first_broken_seq": None, "reason": None}
    assert all(e.prev_hash == p.hash for p, e in zip(entries, entries[1:], strict=False))


def test_edited_row_is_named_as_first_broken_link(client, actors, new_case, session):
    _activity(client, actors, new_case)
    target = session.exec(select(AuditEntry).where(AuditEntry.action == "decision.confirm")).first()
    session.execute(
        text("UPDATE auditentry SET data = :d WHERE seq = :s"),
        {"d": target.data.replace("confirmed", "rejected"), "s": target.seq},
    )
    session.commit()
    session.expire_all()
    result = audit.verify(session)
    assert (result.ok, result.first_broken_seq) == (False, target.seq)
    assert result.entries == target.seq - 1
    assert "hash" in result.reason


def test_rewritten_hash_still_breaks_the_next_link(client, actors, new_case, session):
    _activity(client, actors, new_case)
    target = session.exec(select(AuditEntry).where(AuditEntry.action == "claim")).first()
    new_data = target.data.replace("600", "6000")
    forged = audit.entry_hash(
        prev_hash=target.prev_hash,
        seq=target.seq,
        at=target.at,
        actor=target.actor,
        action=target.action,
        target=target.target,
        data=new_data,
    )
    session.execute(
        text("UPDATE auditentry SET data = :d, hash = :h WHERE seq = :s"),
        {"d": new_data, "h": forged, "s": target.seq},
    )
    session.commit()
    session.expire_all()
    result = audit.verify(session)
    assert (result.ok, result.first_broken_seq) == (False, target.seq + 1)


def test_deleted_row_is_detected(client, actors, new_case, session):
    _activity(client, actors, new_case)
    session.execute(text("DELETE FROM auditentry WHERE seq = 5"))
    session.commit()
    result = audit.verify(session)
    assert (result.ok, result.first_broken_seq) == (False, 5)
