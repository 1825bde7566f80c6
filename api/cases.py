"""The review queue: list, claim (leased), decide, attach a subject.

The REST routes and the web UI both call these functions.

Every state change is one conditional UPDATE (`WHERE id = … AND version = … AND <precondition>`): when two
reviewers race, the database lets exactly one row-update through and the other caller gets `Conflict` (409).
This holds on SQLite (writers serialise) and PostgreSQL (row locks + re-check under READ COMMITTED).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from api import audit, labels
from api.db import as_utc, utcnow
from api.errors import Conflict, Invalid, NotFound
from api.models import (
    COUNTS_AS_OFFENCE,
    DECIDABLE,
    CaseDetail,
    CaseStatus,
    Decision,
    DecisionCreate,
    DecisionPublic,
    Evidence,
    EvidencePublic,
    Fine,
    FineBase,
    FinePublic,
    User,
    Violation,
    ViolationPublic,
)
from api.policy import OVERRIDE_REASONS, REJECT_REASONS, FineSchedule, compute_amount, is_repeat
from api.subjects import SubjectRegistry, subject_row
from autofine.contract import VIOLATION_TYPES

SortKey = Literal["onset", "-onset", "confidence", "-confidence", "received", "-received"]
_SORTS = {
    "onset": col(Violation.onset).asc(),
    "-onset": col(Violation.onset).desc(),
    "confidence": col(Fine.confidence).asc(),
    "-confidence": col(Fine.confidence).desc(),
    "received": col(Violation.received_at).asc(),
    "-received": col(Violation.received_at).desc(),
}


@dataclass(frozen=True)
class CaseFilter:
    statuses: tuple[CaseStatus, ...] = (CaseStatus.pending_review,)
    violation_type: str | None = None
    camera_id: str | None = None
    onset_from: datetime | None = None
    onset_to: datetime | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    sort: SortKey = "onset"
    offset: int = 0
    limit: int = 50


# ---------------------------------------------------------------- reading
def _usernames(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(User.id, User.username).where(col(User.id).in_(wanted))).all()
    return {uid: name for uid, name in rows}


def to_public(
    fine: Fine, violation: Violation, names: dict[int, str], *, now: datetime | None = None
) -> FinePublic:
    now = now or utcnow()
    live_claim = (
        fine.claimed_by_id is not None and fine.claim_expires_at is not None and fine.claim_expires_at > now
    )
    return FinePublic(
        **{name: getattr(fine, name) for name in FineBase.model_fields},
        id=fine.id,
        violation_id=fine.violation_id,
        version=fine.version,
        has_subject=fine.subject_id is not None,
        document_kind="fine" if fine.subject_id is not None else "notice_of_violation",
        claimed_by=names.get(fine.claimed_by_id) if live_claim else None,
        claim_expires_at=fine.claim_expires_at if live_claim else None,
        provenance=labels.provenance(fine, violation, confirmed_by=names.get(fine.decided_by_id)),
        notice=labels.notice(fine, violation),
    )


def list_cases(session: Session, query: CaseFilter) -> tuple[list[FinePublic], int]:
    conditions = [col(Fine.status).in_([str(s) for s in query.statuses])] if query.statuses else []
    if query.violation_type:
        conditions.append(Fine.violation_type == query.violation_type)
    if query.camera_id:
        conditions.append(Violation.camera_id == query.camera_id)
    try:
        if query.onset_from:
            conditions.append(Violation.onset >= as_utc(query.onset_from))
        if query.onset_to:
            conditions.append(Violation.onset < as_utc(query.onset_to))
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    if query.min_confidence is not None:
        conditions.append(Fine.confidence >= query.min_confidence)
    if query.max_confidence is not None:
        conditions.append(Fine.confidence <= query.max_confidence)
    joined = select(Fine, Violation).join(Violation, Violation.id == Fine.violation_id)
    where = and_(*conditions) if conditions else None
    stmt = joined.where(where) if where is not None else joined
    count_stmt = select(func.count()).select_from(Fine).join(Violation, Violation.id == Fine.violation_id)
    if where is not None:
        count_stmt = count_stmt.where(where)
    count = session.exec(count_stmt).one()
    rows = session.exec(
        stmt.order_by(_SORTS[query.sort], col(Fine.id).asc()).offset(query.offset).limit(query.limit)
    ).all()
    names = _usernames(session, {f.claimed_by_id for f, _ in rows} | {f.decided_by_id for f, _ in rows})
    return [to_public(f, v, names) for f, v in rows], count


def pending_counts(session: Session) -> dict[str, int]:
    """Cases waiting for review per violation type (every type present, zero included)."""
    rows = session.exec(
        select(Fine.violation_type, func.count())
        .where(Fine.status == str(CaseStatus.pending_review))
        .group_by(Fine.violation_type)
    ).all()
    found = dict(rows)
    return {t: found.get(t, 0) for t in VIOLATION_TYPES} | found


def get_case(session: Session, fine_id: int) -> tuple[Fine, Violation]:
    fine = session.get(Fine, fine_id)
    if fine is None:
        raise NotFound(f"case {fine_id} not found")
    violation = session.get(Violation, fine.violation_id)
    assert violation is not None
    return fine, violation


def case_detail(session: Session, fine_id: int) -> CaseDetail:
    fine, violation = get_case(session, fine_id)
    evidence = session.exec(
        select(Evidence).where(Evidence.violation_id == violation.id).order_by(Evidence.id)
    ).all()
    decisions = session.exec(select(Decision).where(Decision.fine_id == fine.id).order_by(Decision.id)).all()
    names = _usernames(session, {fine.claimed_by_id, fine.decided_by_id})
    return CaseDetail(
        fine=to_public(fine, violation, names),
        violation=ViolationPublic.model_validate(violation, from_attributes=True),
        evidence=[EvidencePublic.model_validate(e, from_attributes=True) for e in evidence],
        decisions=[DecisionPublic.model_validate(d, from_attributes=True) for d in decisions],
    )


# ---------------------------------------------------------------- claiming
def _conditional_update(session: Session, fine_id: int, where: Sequence, values: dict) -> bool:
    result = session.execute(
        update(Fine)
        .where(Fine.id == fine_id, *where)
        .values(version=Fine.version + 1, updated_at=values.pop("updated_at", utcnow()), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _update_or_conflict(
    session: Session, fine_id: int, where: Sequence, values: dict, *, conflict: str
) -> None:
    """`_conditional_update`, or roll back and raise `Conflict(conflict)` when another writer won the race."""
    if not _conditional_update(session, fine_id, where, values):
        session.rollback()
        raise Conflict(conflict)


def claim(
    session: Session, *, fine_id: int, reviewer: User, lease_seconds: int, now: datetime | None = None
) -> Fine:
    """Open a case for `reviewer` for `lease_seconds`. Free, expired or own claims: taken; else Conflict."""
    now = now or utcnow()
    fine, _ = get_case(session, fine_id)
    if fine.status not in DECIDABLE:
        raise Conflict(f"case {fine_id} is {fine.status}; only pending or auto-issued cases can be opened")
    _update_or_conflict(
        session,
        fine_id,
        [
            col(Fine.status).in_([str(s) for s in DECIDABLE]),
            or_(
                col(Fine.claimed_by_id).is_(None),
                col(Fine.claim_expires_at) <= now,
                Fine.claimed_by_id == reviewer.id,
            ),
        ],
        {
            "claimed_by_id": reviewer.id,
            "claimed_at": now,
            "claim_expires_at": now + timedelta(seconds=lease_seconds),
            "updated_at": now,
        },
        conflict=f"case {fine_id} is opened by another reviewer",
    )
    audit.record(
        session=session,
        actor=f"user:{reviewer.username}",
        action="claim",
        target=f"fine:{fine_id}",
        data={"lease_seconds": lease_seconds, "previous_holder": fine.claimed_by_id},
    )
    session.commit()
    session.refresh(fine)
    return fine


def release(session: Session, *, fine_id: int, reviewer: User) -> Fine:
    fine, _ = get_case(session, fine_id)
    _update_or_conflict(
        session,
        fine_id,
        [Fine.claimed_by_id == reviewer.id],
        {"claimed_by_id": None, "claimed_at": None, "claim_expires_at": None},
        conflict=f"case {fine_id} is not opened by you",
    )
    audit.record(
        session=session, actor=f"user:{reviewer.username}", action="release", target=f"fine:{fine_id}"
    )
    session.commit()
    session.refresh(fine)
    return fine


# ---------------------------------------------------------------- deciding
def _validate(decision: DecisionCreate, fine: Fine) -> None:
    text = decision.reason_text.strip()
    if decision.action == "reject":
        if decision.reason_code not in REJECT_REASONS:
            raise Invalid(f"reject needs reason_code, one of: {', '.join(REJECT_REASONS)}")
        if not text:
            raise Invalid("reject needs reason_text explaining the decision")
    elif decision.action == "override":
        if decision.reason_code not in OVERRIDE_REASONS:
            raise Invalid(f"override needs reason_code, one of: {', '.join(OVERRIDE_REASONS)}")
        if not text:
            raise Invalid("override needs reason_text explaining the change")
        if decision.new_type is None and decision.new_amount_kzt is None:
            raise Invalid("override needs new_type and/or new_amount_kzt")
        if decision.new_type is not None and decision.new_type not in VIOLATION_TYPES:
            raise Invalid(f"new_type must be one of {', '.join(VIOLATION_TYPES)}")
        if decision.new_amount_kzt is not None and not 0 <= decision.new_amount_kzt <= 100_000_000:
            raise Invalid("new_amount_kzt must be between 0 and 100,000,000")
    elif decision.new_type is not None or decision.new_amount_kzt is not None:
        raise Invalid("only override may change type or amount")


def decide(
    session: Session,
    *,
    fine_id: int,
    reviewer: User,
    decision: DecisionCreate,
    schedule: FineSchedule,
    now: datetime | None = None,
) -> tuple[Fine, Decision]:
    """Confirm, reject or override a case the reviewer has open. Exactly one of two racing decisions wins."""
    now = now or utcnow()
    fine, violation = get_case(session, fine_id)
    _validate(decision, fine)
    if fine.status not in DECIDABLE:
        raise Conflict(f"case {fine_id} is already {fine.status}")
    if fine.claimed_by_id != reviewer.id or fine.claim_expires_at is None or fine.claim_expires_at <= now:
        raise Conflict(f"open (claim) case {fine_id} before deciding it; your claim is missing or expired")
    if decision.expected_version is not None and decision.expected_version != fine.version:
        raise Conflict(f"case {fine_id} changed since you loaded it (version {fine.version})")

    new_type = fine.violation_type
    values: dict = {}
    if decision.action == "override":
        new_type = decision.new_type or fine.violation_type
        if new_type != fine.violation_type:
            amount = compute_amount(
                schedule, violation_type=new_type, onset=violation.onset, repeat=fine.repeat_offence
            )
            values |= {
                "violation_type": new_type,
                "article": amount.article,
                "amount_mrp": amount.amount_mrp,
                "amount_kzt": amount.amount_kzt,
                "mrp_year": amount.mrp_year,
                "schedule_version": amount.schedule_version,
            }
        if decision.new_amount_kzt is not None:
            values |= {"amount_kzt": decision.new_amount_kzt, "amount_mrp": None}
    new_status = {
        "confirm": CaseStatus.confirmed,
        "reject": CaseStatus.rejected,
        "override": CaseStatus.overridden,
    }[decision.action]
    previous_amount = fine.amount_kzt
    previous_status = fine.status
    _update_or_conflict(
        session,
        fine_id,
        [
            Fine.version == fine.version,
            Fine.claimed_by_id == reviewer.id,
            col(Fine.claim_expires_at) > now,
            col(Fine.status).in_([str(s) for s in DECIDABLE]),
        ],
        values
        | {
            "status": str(new_status),
            "human_confirmed": decision.action != "reject",
            "decided_by_id": reviewer.id,
            "decided_at": now,
            "claimed_by_id": None,
            "claim_expires_at": None,
            "updated_at": now,
        },
        conflict=f"case {fine_id} was decided or re-opened by someone else",
    )
    record = Decision(
        fine_id=fine_id,
        reviewer_id=reviewer.id,
        action=decision.action,
        reason_code=decision.reason_code,
        reason_text=decision.reason_text.strip(),
        previous_status=str(previous_status),
        previous_type=fine.violation_type,
        new_type=new_type,
        previous_amount_kzt=previous_amount,
        new_amount_kzt=values.get("amount_kzt", previous_amount),
        claimed_at=fine.claimed_at,
        decided_at=now,
    )
    session.add(record)
    session.flush()
    audit.record(
        session=session,
        actor=f"user:{reviewer.username}",
        action=f"decision.{decision.action}",
        target=f"fine:{fine_id}",
        data={
            "decision_id": record.id,
            "reason_code": decision.reason_code,
            "reason_text": record.reason_text,
            "from": {
                "status": str(previous_status),
                "type": record.previous_type,
                "amount_kzt": previous_amount,
            },
            "to": {"status": str(new_status), "type": new_type, "amount_kzt": record.new_amount_kzt},
        },
    )
    session.commit()
    session.refresh(fine)
    return fine, record


# ---------------------------------------------------------------- history
@dataclass(frozen=True)
class DecisionRow:
    """One human decision with who made it and what the case is now (for the history page)."""

    decision: DecisionPublic
    reviewer: str
    camera_id: str
    onset: datetime
    current_status: str


def decision_history(
    session: Session, *, offset: int = 0, limit: int = 50, violation_type: str | None = None
) -> tuple[list[DecisionRow], int]:
    """Decisions, newest first; `violation_type` filters on the type the case had before the decision."""
    where = [Decision.previous_type == violation_type] if violation_type else []
    count = session.exec(select(func.count()).select_from(Decision).where(*where)).one()
    rows = session.exec(
        select(Decision, Fine, Violation)
        .join(Fine, Fine.id == Decision.fine_id)
        .join(Violation, Violation.id == Fine.violation_id)
        .where(*where)
        .order_by(col(Decision.decided_at).desc(), col(Decision.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    names = _usernames(session, {d.reviewer_id for d, _, _ in rows})
    return [
        DecisionRow(
            decision=DecisionPublic.model_validate(d, from_attributes=True),
            reviewer=names.get(d.reviewer_id, f"user {d.reviewer_id}"),
            camera_id=v.camera_id,
            onset=v.onset,
            current_status=str(f.status),
        )
        for d, f, v in rows
    ], count


# ---------------------------------------------------------------- subjects
def age_at(birth_date: date, moment: datetime) -> int:
    """Full years of age on the day of `moment`."""
    day = moment.date()
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _close_minor(
    session: Session, *, fine: Fine, actor: User, subject_id: int, basis: str, age: int, min_age: int
) -> Fine:
    now = utcnow()
    reason = f"subject_under_{min_age}"
    _update_or_conflict(
        session,
        fine.id,
        [Fine.version == fine.version],
        {
            "subject_id": subject_id,
            "status": str(CaseStatus.closed),
            "closure_reason": reason,
            "amount_kzt": 0,
            "amount_mrp": None,
            "claimed_by_id": None,
            "claim_expires_at": None,
            "decided_at": now,
            "updated_at": now,
        },
        conflict=f"case {fine.id} changed meanwhile; reload and retry",
    )
    audit.record(
        session=session,
        actor=f"user:{actor.username}",
        action="attach_subject",
        target=f"fine:{fine.id}",
        data={"subject_id": subject_id, "basis": basis.strip(), "age_at_offence": age},
    )
    audit.record(
        session=session,
        actor="system:policy",
        action="case.close",
        target=f"fine:{fine.id}",
        data={
            "reason": reason,
            "explanation": f"subject was {age} at the offence; under {min_age}: no administrative fine",
            "previous_status": str(fine.status),
            "previous_amount_kzt": fine.amount_kzt,
        },
    )
    session.commit()
    session.refresh(fine)
    return fine


def attach_subject(
    session: Session,
    *,
    fine_id: int,
    actor: User,
    national_id: str,
    basis: str,
    registry: SubjectRegistry,
    schedule: FineSchedule,
    min_age: int = 16,
) -> Fine:
    """Identify the offender; re-price the fine (repeat offence within the window) unless already exported.

    A subject younger than `min_age` (KoAP age of administrative responsibility) at the offence gets no fine:
    the case closes with that reason.
    """
    fine, violation = get_case(session, fine_id)
    if fine.status in (CaseStatus.exported, CaseStatus.under_appeal):
        raise Conflict(f"case {fine_id} is {fine.status}; subject changes go through an appeal")
    if fine.status in (CaseStatus.cancelled, CaseStatus.closed):
        raise Conflict(f"case {fine_id} is {fine.status}; there is no fine to attach a subject to")
    if not basis.strip():
        raise Invalid("say on what basis the subject is identified (basis)")
    info = registry.lookup(session, national_id)
    if info is None:
        raise NotFound("no subject with that national id in the registry")
    subject = subject_row(session, info)
    age = age_at(info.birth_date, violation.onset) if info.birth_date else None
    if age is not None and age < min_age:
        return _close_minor(
            session, fine=fine, actor=actor, subject_id=subject.id, basis=basis, age=age, min_age=min_age
        )
    priors = session.exec(
        select(Violation.onset)
        .join(Fine, Fine.violation_id == Violation.id)
        .where(
            Fine.subject_id == subject.id,
            Fine.id != fine_id,
            Fine.violation_type == fine.violation_type,
            col(Fine.status).in_([str(s) for s in COUNTS_AS_OFFENCE]),
        )
    ).all()
    repeat = is_repeat(
        onset=violation.onset, prior_onsets=priors, window_months=schedule.repeat_window_months
    )
    amount = compute_amount(
        schedule, violation_type=fine.violation_type, onset=violation.onset, repeat=repeat
    )
    _update_or_conflict(
        session,
        fine_id,
        [Fine.version == fine.version],
        {
            "subject_id": subject.id,
            "repeat_offence": amount.repeat_offence,
            "article": amount.article,
            "amount_mrp": amount.amount_mrp,
            "amount_kzt": amount.amount_kzt,
            "mrp_year": amount.mrp_year,
            "schedule_version": amount.schedule_version,
        },
        conflict=f"case {fine_id} changed meanwhile; reload and retry",
    )
    audit.record(
        session=session,
        actor=f"user:{actor.username}",
        action="attach_subject",
        target=f"fine:{fine_id}",
        data={
            "subject_id": subject.id,
            "basis": basis.strip(),
            "repeat_offence": amount.repeat_offence,
            "amount_kzt": amount.amount_kzt,
        },
    )
    session.commit()
    session.refresh(fine)
    return fine
