"""Appeals: a contested fine, its legal hold, and the decision (upheld / cancelled / amended) with a reason.

- Filing moves the case to `under_appeal` and puts its evidence under legal hold: retention never deletes
  held evidence. The hold stays after the decision (the decision itself may be taken to court) until an
  admin releases it (`release_hold`), which is audited like everything else.
- Upheld: the case returns to the state it had. Amended: same, with the new amount. Cancelled: `cancelled`.
- A fine already exported to ERAP is corrected there: a cancellation (or amendment) document goes through the
  ERAP adapter, signed like the export itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from api import audit
from api.cases import _update_or_conflict, get_case
from api.db import utcnow
from api.erap import ErapAdapter
from api.errors import Conflict, Invalid, NotFound
from api.models import APPEALABLE, Appeal, AppealOutcome, CaseStatus, Fine, Violation


def open_appeal(session: Session, fine_id: int) -> Appeal | None:
    return session.exec(
        select(Appeal).where(Appeal.fine_id == fine_id, col(Appeal.outcome).is_(None)).order_by(Appeal.id)
    ).first()


def appeals_of(session: Session, fine_id: int) -> list[Appeal]:
    return list(session.exec(select(Appeal).where(Appeal.fine_id == fine_id).order_by(Appeal.id)).all())


def file_appeal(
    session: Session, *, fine_id: int, actor: str, grounds: str, now: datetime | None = None
) -> Appeal:
    """Record that the fine is contested: case -> under_appeal, evidence under legal hold."""
    now = now or utcnow()
    if not grounds.strip():
        raise Invalid("an appeal needs its grounds (what the person contests)")
    fine, _ = get_case(session, fine_id)
    if fine.status not in APPEALABLE:
        raise Conflict(f"case {fine_id} is {fine.status}; only an issued fine can be appealed")
    _update_or_conflict(
        session,
        fine_id,
        [Fine.version == fine.version, col(Fine.status).in_([str(s) for s in APPEALABLE])],
        {
            "status": str(CaseStatus.under_appeal),
            "legal_hold": True,
            "claimed_by_id": None,
            "claim_expires_at": None,
            "updated_at": now,
        },
        conflict=f"case {fine_id} changed meanwhile; reload and retry",
    )
    appeal = Appeal(
        fine_id=fine_id,
        filed_by=actor,
        grounds=grounds.strip(),
        filed_at=now,
        previous_status=str(fine.status),
        previous_amount_kzt=fine.amount_kzt,
    )
    session.add(appeal)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="appeal.file",
        target=f"fine:{fine_id}",
        data={"appeal_id": appeal.id, "grounds": appeal.grounds, "previous_status": appeal.previous_status},
    )
    audit.record(
        session=session,
        actor=actor,
        action="legal_hold.set",
        target=f"fine:{fine_id}",
        data={"appeal_id": appeal.id},
    )
    session.commit()
    return appeal


def decide_appeal(
    session: Session,
    *,
    fine_id: int,
    actor: str,
    outcome: AppealOutcome | str,
    reason: str,
    adapter: ErapAdapter,
    new_amount_kzt: int | None = None,
    now: datetime | None = None,
) -> Appeal:
    """Decide the open appeal; a correction document goes to ERAP when the fine had been exported."""
    now = now or utcnow()
    try:
        outcome = AppealOutcome(outcome)
    except ValueError as exc:
        raise Invalid(f"outcome must be one of {', '.join(o.value for o in AppealOutcome)}") from exc
    if not reason.strip():
        raise Invalid("an appeal decision needs its reason")
    if outcome == AppealOutcome.amended:
        if new_amount_kzt is None or not 0 <= new_amount_kzt <= 100_000_000:
            raise Invalid("an amended fine needs new_amount_kzt (0 ... 100,000,000)")
    elif new_amount_kzt is not None:
        raise Invalid("only an amended decision changes the amount")
    fine, violation = get_case(session, fine_id)
    appeal = open_appeal(session, fine_id)
    if appeal is None or fine.status != CaseStatus.under_appeal:
        raise NotFound(f"case {fine_id} has no open appeal")
    values: dict[str, Any] = {"updated_at": now}
    if outcome == AppealOutcome.cancelled:
        values |= {"status": str(CaseStatus.cancelled), "decided_at": now}
    else:
        values["status"] = appeal.previous_status
    if outcome == AppealOutcome.amended:
        values |= {"amount_kzt": new_amount_kzt, "amount_mrp": None}
    _update_or_conflict(
        session,
        fine_id,
        [Fine.version == fine.version, Fine.status == str(CaseStatus.under_appeal)],
        values,
        conflict=f"case {fine_id} changed meanwhile; reload and retry",
    )
    appeal.outcome, appeal.decided_by, appeal.decided_at = str(outcome), actor, now
    appeal.reason, appeal.new_amount_kzt = reason.strip(), new_amount_kzt
    if fine.exported_at is not None and outcome != AppealOutcome.upheld:
        kind = "cancellation" if outcome == AppealOutcome.cancelled else "amendment"
        receipt = adapter.send_correction(
            fine_id=fine_id,
            kind=kind,
            ref=appeal.id,
            payload=correction_payload(fine, violation, appeal, kind=kind),
        )
        appeal.erap_document = receipt.document_name
        audit.record(
            session=session,
            actor=actor,
            action=f"export.{kind}",
            target=f"fine:{fine_id}",
            data={"appeal_id": appeal.id, "document": receipt.document_name, "sha256": receipt.sha256},
        )
    session.add(appeal)
    audit.record(
        session=session,
        actor=actor,
        action=f"appeal.{outcome.value}",
        target=f"fine:{fine_id}",
        data={
            "appeal_id": appeal.id,
            "reason": appeal.reason,
            "from": {"status": str(CaseStatus.under_appeal), "amount_kzt": fine.amount_kzt},
            "to": {"status": values["status"], "amount_kzt": values.get("amount_kzt", fine.amount_kzt)},
        },
    )
    session.commit()
    session.refresh(appeal)
    return appeal


def correction_payload(fine: Fine, violation: Violation, appeal: Appeal, *, kind: str) -> dict[str, Any]:
    return {
        "schema": f"autofine.erap.{kind}.v1",
        "case_number": fine.id,
        "camera_id": violation.camera_id,
        "offence_at": violation.onset.isoformat(),
        "original_export_at": fine.exported_at.isoformat() if fine.exported_at else None,
        "original_amount_kzt": appeal.previous_amount_kzt,
        "new_amount_kzt": appeal.new_amount_kzt if kind == "amendment" else 0,
        "appeal": {
            "id": appeal.id,
            "filed_at": appeal.filed_at.isoformat(),
            "grounds": appeal.grounds,
            "outcome": appeal.outcome,
            "reason": appeal.reason,
            "decided_by": appeal.decided_by,
            "decided_at": appeal.decided_at.isoformat() if appeal.decided_at else None,
        },
    }


def release_hold(session: Session, *, fine_id: int, actor: str, reason: str) -> Fine:
    """End the legal hold (no appeal open); retention may then delete the evidence on its usual schedule."""
    if not reason.strip():
        raise Invalid("say why the legal hold ends (e.g. the appeal period is over)")
    fine, _ = get_case(session, fine_id)
    if open_appeal(session, fine_id) is not None:
        raise Conflict(f"case {fine_id} has an open appeal; decide it first")
    if not fine.legal_hold:
        raise Conflict(f"case {fine_id} is not on legal hold")
    _update_or_conflict(
        session,
        fine_id,
        [Fine.version == fine.version],
        {"legal_hold": False},
        conflict=f"case {fine_id} changed meanwhile; reload and retry",
    )
    audit.record(
        session=session,
        actor=actor,
        action="legal_hold.release",
        target=f"fine:{fine_id}",
        data={"reason": reason.strip()},
    )
    session.commit()
    session.refresh(fine)
    return fine
