"""Retention: delete evidence that may no longer be kept, and say so in the audit log.

- Evidence of rejected cases (and cases closed or cancelled with no fine): `retention_rejected_days` after
  the decision.
- Evidence of closed cases (confirmed, overridden, exported): `retention_evidence_days` after intake.
Cases on legal hold are never touched; undecided cases keep their evidence (a human still has to look).
The violation and fine rows stay (with the files' sha256) so the audit trail remains meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from api import audit
from api.db import utcnow
from api.evidence_store import EvidenceStore
from api.models import CaseStatus, Evidence, Fine

CLOSED = (CaseStatus.confirmed, CaseStatus.overridden, CaseStatus.exported)
#: Cases that ended with no fine: their evidence goes after `retention_rejected_days`.
NO_FINE = (CaseStatus.rejected, CaseStatus.closed, CaseStatus.cancelled)


@dataclass(frozen=True)
class RetentionSummary:
    deleted_evidence: list[int]
    cases: list[int]


def run_retention(
    session: Session,
    *,
    store: EvidenceStore,
    rejected_days: int,
    evidence_days: int,
    actor: str = "system:retention",
    now: datetime | None = None,
) -> RetentionSummary:
    now = now or utcnow()
    rows = session.exec(
        select(Evidence, Fine)
        .join(Fine, Fine.violation_id == Evidence.violation_id)
        .where(
            col(Evidence.deleted_at).is_(None),
            Fine.legal_hold == False,  # noqa: E712 (SQL expression)
            or_(
                and_(
                    col(Fine.status).in_([str(s) for s in NO_FINE]),
                    col(Fine.decided_at) <= now - timedelta(days=rejected_days),
                ),
                and_(
                    col(Fine.status).in_([str(s) for s in CLOSED]),
                    col(Evidence.created_at) <= now - timedelta(days=evidence_days),
                ),
            ),
        )
        .order_by(Evidence.id)
    ).all()
    by_case: dict[int, list[Evidence]] = {}
    for evidence, fine in rows:
        by_case.setdefault(fine.id, []).append(evidence)
    deleted: list[int] = []
    for fine_id, items in by_case.items():
        for evidence in items:
            store.delete(evidence.storage_key)
            evidence.deleted_at = now
            session.add(evidence)
            deleted.append(evidence.id)
        status = session.get(Fine, fine_id).status
        audit.record(
            session=session,
            actor=actor,
            action="retention.delete_evidence",
            target=f"fine:{fine_id}",
            data={
                "status": str(status),
                "evidence": [{"id": e.id, "name": e.name, "sha256": e.sha256} for e in items],
                "policy": {"rejected_days": rejected_days, "evidence_days": evidence_days},
            },
        )
        session.commit()
    return RetentionSummary(deleted_evidence=deleted, cases=sorted(by_case))
