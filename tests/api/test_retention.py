from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from api.db import utcnow
from api.models import AuditEntry, Evidence, Fine
from api.retention import run_retention


def _decide(client, headers, fine_id, body):
    client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=headers)
    assert (
        client.post(f"/api/v1/review/cases/{fine_id}/decision", headers=headers, json=body).status_code == 200
    )


def test_retention_deletes_rejected_evidence_after_period(client, actors, new_case, session, app):
    rejected = new_case()
    held = new_case()
    pending = new_case()
    for fine_id in (rejected, held):
        _decide(
            client,
            actors.reviewer,
            fine_id,
            {"action": "reject", "reason_code": "no_violation", "reason_text": "no"},
        )
    fine = session.get(Fine, held)
    fine.legal_hold = True
    session.add(fine)
    session.commit()
    store = app.state.evidence_store

    too_early = run_retention(
        session, store=store, rejected_days=30, evidence_days=400, now=utcnow() + timedelta(days=29)
    )
    assert too_early.deleted_evidence == []

    summary = run_retention(
        session, store=store, rejected_days=30, evidence_days=400, now=utcnow() + timedelta(days=31)
    )
    assert summary.cases == [rejected] and len(summary.deleted_evidence) == 1
    session.expire_all()
    gone = session.get(Evidence, summary.deleted_evidence[0])
    assert gone.deleted_at is not None and not store.exists(gone.storage_key)
    kept = session.exec(select(Evidence).where(Evidence.id != gone.id)).all()
    assert len(kept) == 2 and all(store.exists(e.storage_key) for e in kept)  # legal hold + pending untouched
    assert client.get(f"/api/v1/evidence/{gone.id}", headers=actors.reviewer).status_code == 410
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "retention.delete_evidence")).one()
    assert entry.target == f"fine:{rejected}" and gone.sha256 in entry.data
    assert pending not in summary.cases


def test_retention_of_closed_cases_and_admin_endpoint(client, actors, new_case, session):
    fine_id = new_case()
    _decide(client, actors.reviewer, fine_id, {"action": "confirm"})
    response = client.post("/api/v1/admin/retention", headers=actors.admin)
    assert response.status_code == 200 and response.json()["deleted_evidence"] == []  # within 400 days
    summary = run_retention(
        session,
        store=client.app.state.evidence_store,
        rejected_days=30,
        evidence_days=400,
        now=utcnow() + timedelta(days=401),
    )
    assert summary.cases == [fine_id]
