"""Violation intake: validate the camera's record and evidence, store both, open a case, audit it.

Idempotent: the violation's `idempotency_key` column is UNIQUE, so the database decides which of two
concurrent posts of the same record wins; the loser returns the winner's ids with `duplicate=True`.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api import audit
from api.calibration import calibrated_confidence, latest_calibration
from api.db import as_utc
from api.errors import Forbidden, Invalid
from api.evidence_store import EvidenceStore
from api.keys import check_record_signature
from api.models import AutoIssuePolicy, CaseStatus, Evidence, Fine, Violation
from api.policy import FineSchedule, compute_amount, route
from autofine.contract import IntakeResponse, ViolationRecord
from autofine.errors import UserError


def parse_record(text: str | bytes) -> ViolationRecord:
    try:
        return ViolationRecord.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise Invalid(f"invalid record: {where}: {first['msg']} ({exc.error_count()} error(s))") from exc


def check_files(record: ViolationRecord, files: dict[str, bytes]) -> None:
    """Every declared evidence file present, nothing undeclared, sizes and sha256 as declared."""
    declared = [e.name for e in record.evidence]
    if len(set(declared)) != len(declared):
        raise Invalid("record.evidence names must be unique")
    missing = [n for n in declared if n not in files]
    if missing:
        raise Invalid(f"evidence file(s) missing from the upload: {', '.join(missing)}")
    extra = sorted(set(files) - set(declared))
    if extra:
        raise Invalid(f"upload has file(s) not declared in record.evidence: {', '.join(extra)}")
    for item in record.evidence:
        data = files[item.name]
        if len(data) != item.size:
            raise Invalid(f"evidence '{item.name}': size {len(data)} bytes, record says {item.size}")
        actual = hashlib.sha256(data).hexdigest()
        if actual != item.sha256:
            raise Invalid(
                f"evidence '{item.name}': sha256 mismatch (record {item.sha256}, received {actual})"
            )


def _existing(session: Session, key: str) -> IntakeResponse | None:
    violation = session.exec(select(Violation).where(Violation.idempotency_key == key)).first()
    if violation is None:
        return None
    fine = session.exec(select(Fine).where(Fine.violation_id == violation.id)).first()
    return IntakeResponse(
        violation_id=violation.id,
        fine_id=fine.id if fine else None,
        status=str(fine.status) if fine else "received",
        duplicate=True,
    )


def ingest(
    *,
    session: Session,
    store: EvidenceStore,
    schedule: FineSchedule,
    review_all: bool,
    camera_pk: int,
    camera_id: str,
    record_text: str | bytes,
    files: dict[str, bytes],
    require_signatures: bool = False,
) -> IntakeResponse:
    record = parse_record(record_text)
    if record.camera_id != camera_id:
        raise Forbidden(
            f"record.camera_id '{record.camera_id}' does not match this token's camera '{camera_id}'"
        )
    signing_key = check_record_signature(session, record, required=require_signatures)
    key = record.idempotency_key
    if (seen := _existing(session, key)) is not None:
        return seen
    check_files(record, files)
    try:
        onset, confirmed_at = as_utc(record.onset), as_utc(record.confirmed_at)
    except ValueError as exc:
        raise Invalid(f"invalid record: {exc}") from exc
    try:
        amount = compute_amount(schedule, violation_type=record.violation_type, onset=onset, repeat=False)
    except UserError as exc:
        raise Invalid(str(exc)) from exc
    policy = session.get(AutoIssuePolicy, record.violation_type)
    calibration = latest_calibration(
        session,
        violation_type=record.violation_type,
        model_id=record.model.id,
        model_version=record.model.version,
    )
    calibrated = calibrated_confidence(calibration, record.confidence) if calibration else None
    if policy is not None and policy.min_expected_precision is not None:
        # Stated as precision: only a calibrated confidence can reach it; uncalibrated models go to review.
        decision = route(
            confidence=calibrated if calibrated is not None else -1.0,
            review_all=review_all,
            auto_enabled=policy.enabled,
            threshold=policy.min_expected_precision,
        )
    else:
        decision = route(
            confidence=record.confidence,
            review_all=review_all,
            auto_enabled=bool(policy and policy.enabled),
            threshold=policy.threshold if policy else 1.0,
        )
    if record.thresholds.get("review.required", 0.0) >= 1.0:
        # the camera flags it (e.g. a littering proposal the litter model found nothing litter-like on)
        decision = "review"

    stored: list[str] = []
    try:
        violation = Violation(
            idempotency_key=key,
            camera_pk=camera_pk,
            camera_id=record.camera_id,
            incident_id=record.incident_id,
            violation_type=record.violation_type,
            onset=onset,
            confirmed_at=confirmed_at,
            confidence=record.confidence,
            model_id=record.model.id,
            model_version=record.model.version,
            model_sha256=record.model.sha256,
            config_hash=record.config_hash,
            software_version=record.software_version,
            location_address=record.location.address,
            latitude=record.location.latitude,
            longitude=record.location.longitude,
            record_json=record_text.decode() if isinstance(record_text, bytes) else record_text,
        )
        session.add(violation)
        session.flush()  # the UNIQUE idempotency key decides here
        for item in record.evidence:
            storage_key = store.put(files[item.name], expected_sha256=item.sha256)
            stored.append(storage_key)
            session.add(
                Evidence(
                    violation_id=violation.id,
                    name=item.name,
                    kind=item.kind,
                    media_type=item.media_type,
                    sha256=item.sha256,
                    size=item.size,
                    storage_key=storage_key,
                )
            )
        fine = Fine(
            violation_id=violation.id,
            violation_type=record.violation_type,
            status=CaseStatus.auto_issued if decision == "auto" else CaseStatus.pending_review,
            article=amount.article,
            amount_mrp=amount.amount_mrp,
            amount_kzt=amount.amount_kzt,
            mrp_year=amount.mrp_year,
            schedule_version=amount.schedule_version,
            repeat_offence=amount.repeat_offence,
            confidence=record.confidence,
            calibrated_confidence=calibrated,
            calibration_id=calibration.id if calibration else None,
            route=decision,
        )
        session.add(fine)
        session.flush()
        audit.record(
            session=session,
            actor=f"camera:{camera_id}",
            action="intake",
            target=f"violation:{violation.id}",
            data={
                "idempotency_key": key,
                "record_sha256": hashlib.sha256(violation.record_json.encode()).hexdigest(),
                "evidence": {e.name: e.sha256 for e in record.evidence},
                "fine_id": fine.id,
                "route": decision,
                "signing_key_id": signing_key.key_id if signing_key else None,
                "calibrated_confidence": calibrated,
            },
        )
        if decision == "auto":
            audit.record(
                session=session,
                actor="system:policy",
                action="auto_issue",
                target=f"fine:{fine.id}",
                data={"confidence": record.confidence, "threshold": policy.threshold if policy else None},
            )
        session.commit()
    except IntegrityError:
        session.rollback()
        for storage_key in stored:
            store.delete(storage_key)
        if (seen := _existing(session, key)) is not None:
            return seen
        raise
    except BaseException:
        session.rollback()
        for storage_key in stored:
            store.delete(storage_key)
        raise
    return IntakeResponse(
        violation_id=violation.id, fine_id=fine.id, status=str(fine.status), duplicate=False
    )


def record_summary(record_json: str) -> dict:
    """The stored record as a dict (for detail pages); the stored text itself stays verbatim."""
    return json.loads(record_json)
