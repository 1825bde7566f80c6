"""SQLModel tables and API schemas, one family per entity (`XBase` / `XCreate` / `XPublic` / `X(table=True)`).

Offender identity (Subject) and storage paths never appear in a `*Public` model.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow


class Role(StrEnum):
    reviewer = "reviewer"
    admin = "admin"


class CaseStatus(StrEnum):
    pending_review = "pending_review"  # waits for a human (may be claimed: see Fine.claimed_by_id)
    auto_issued = "auto_issued"  # issued by policy without a human; overridable until exported
    confirmed = "confirmed"
    rejected = "rejected"
    overridden = "overridden"
    exported = "exported"
    under_appeal = "under_appeal"  # contested; evidence under legal hold until an appeal decision
    cancelled = "cancelled"  # cancelled on appeal (a cancellation document goes to ERAP if it was exported)
    closed = "closed"  # closed without a fine, see Fine.closure_reason (e.g. subject under 16)


#: A reviewer may open (claim) and decide a case in these states.
DECIDABLE = (CaseStatus.pending_review, CaseStatus.auto_issued)
#: Export takes fines in these states.
EXPORTABLE = (CaseStatus.confirmed, CaseStatus.overridden, CaseStatus.auto_issued)
#: States that count as an offence for repeat-offence escalation.
COUNTS_AS_OFFENCE = (CaseStatus.confirmed, CaseStatus.overridden, CaseStatus.auto_issued, CaseStatus.exported)
#: A fine in these states may be contested (an appeal filed against it).
APPEALABLE = (CaseStatus.confirmed, CaseStatus.overridden, CaseStatus.auto_issued, CaseStatus.exported)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


# ---------------------------------------------------------------- cameras
class CameraBase(SQLModel):
    camera_id: str = Field(max_length=64, unique=True, index=True, regex=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=500)
    active: bool = True


class Camera(CameraBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _ts(default_factory=utcnow)


class CameraPublic(CameraBase):
    id: int
    created_at: datetime


# ---------------------------------------------------------------- people
class UserBase(SQLModel):
    username: str = Field(min_length=3, max_length=64, unique=True, index=True, regex=r"^[A-Za-z0-9_.@-]+$")
    full_name: str = Field(default="", max_length=200)
    role: Role = Field(default=Role.reviewer, sa_type=Text)
    active: bool = True


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    hashed_password: str
    created_at: datetime = _ts(default_factory=utcnow)


class UserCreate(UserBase):
    password: str = Field(min_length=8, max_length=256)


class UserPublic(UserBase):
    id: int
    created_at: datetime


# ---------------------------------------------------------------- subjects (identified offenders; private)
class Subject(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    national_id: str = Field(max_length=32, unique=True, index=True, description="IIN; never in *Public.")
    full_name: str = Field(default="", max_length=200)
    birth_date: date | None = None
    created_at: datetime = _ts(default_factory=utcnow)


# ---------------------------------------------------------------- violations and evidence
class ViolationBase(SQLModel):
    camera_id: str = Field(max_length=64, index=True)
    incident_id: str = Field(max_length=128)
    violation_type: str = Field(max_length=32, index=True)
    onset: datetime = _ts(index=True)
    confirmed_at: datetime = _ts()
    confidence: float
    model_id: str = Field(max_length=128)
    model_version: str = Field(max_length=128)
    model_sha256: str = Field(max_length=64)
    config_hash: str = Field(max_length=64)
    software_version: str = Field(max_length=64)
    location_address: str = Field(default="", max_length=500)
    latitude: float | None = None
    longitude: float | None = None


class Violation(ViolationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True, index=True)
    camera_pk: int = Field(foreign_key="camera.id", index=True)
    record_json: str = Field(sa_column=Column(Text, nullable=False), description="The record as received.")
    received_at: datetime = _ts(default_factory=utcnow)


class ViolationPublic(ViolationBase):
    id: int
    received_at: datetime


class EvidenceBase(SQLModel):
    name: str = Field(max_length=100)
    kind: str = Field(max_length=32)
    media_type: str = Field(max_length=100)
    sha256: str = Field(max_length=64)
    size: int


class Evidence(EvidenceBase, table=True):
    __table_args__ = (UniqueConstraint("violation_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    violation_id: int = Field(foreign_key="violation.id", index=True)
    storage_key: str = Field(max_length=200, description="Server-generated; never derived from user input.")
    created_at: datetime = _ts(default_factory=utcnow)
    deleted_at: datetime | None = _ts(default=None)


class EvidencePublic(EvidenceBase):
    id: int
    violation_id: int
    created_at: datetime
    deleted_at: datetime | None


# ---------------------------------------------------------------- fines (cases)
class FineBase(SQLModel):
    violation_type: str = Field(max_length=32, index=True)
    status: CaseStatus = Field(default=CaseStatus.pending_review, sa_type=Text, index=True)
    article: str = Field(max_length=200)
    amount_mrp: float | None = None
    amount_kzt: int
    mrp_year: int
    schedule_version: str = Field(max_length=64)
    repeat_offence: bool = False
    confidence: float
    route: Literal["review", "auto"] = Field(default="review", sa_type=Text)
    human_confirmed: bool = False
    legal_hold: bool = False
    calibrated_confidence: float | None = Field(
        default=None,
        description="Expected precision at this confidence (isotonic calibration), if calibrated.",
    )
    calibration_id: int | None = Field(default=None, description="The Calibration row that produced it.")
    closure_reason: str | None = Field(
        default=None, max_length=64, description="Why a case closed with no fine."
    )
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)
    decided_at: datetime | None = _ts(default=None)
    exported_at: datetime | None = _ts(default=None)


class Fine(FineBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    violation_id: int = Field(foreign_key="violation.id", unique=True, index=True)
    subject_id: int | None = Field(default=None, foreign_key="subject.id", index=True)
    version: int = Field(default=0, description="Bumped on every state change; guards concurrent writes.")
    claimed_by_id: int | None = Field(default=None, foreign_key="user.id")
    claimed_at: datetime | None = _ts(default=None)
    claim_expires_at: datetime | None = _ts(default=None)
    decided_by_id: int | None = Field(default=None, foreign_key="user.id")


class Decision(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    fine_id: int = Field(foreign_key="fine.id", index=True)
    reviewer_id: int = Field(foreign_key="user.id")
    action: str = Field(max_length=16)
    reason_code: str | None = Field(default=None, max_length=64)
    reason_text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    previous_status: str = Field(max_length=32)
    previous_type: str = Field(max_length=32)
    new_type: str = Field(max_length=32)
    previous_amount_kzt: int
    new_amount_kzt: int
    claimed_at: datetime | None = _ts(default=None)
    decided_at: datetime = _ts(default_factory=utcnow)


class DecisionPublic(SQLModel):
    id: int
    fine_id: int
    reviewer_id: int
    action: str
    reason_code: str | None
    reason_text: str
    previous_status: str
    previous_type: str
    new_type: str
    previous_amount_kzt: int
    new_amount_kzt: int
    claimed_at: datetime | None
    decided_at: datetime


# ---------------------------------------------------------------- policy, audit, export
class AutoIssuePolicy(SQLModel, table=True):
    """Per-type auto-issue switch. No row = review everything of that type (the default)."""

    violation_type: str = Field(primary_key=True, max_length=32)
    enabled: bool = False
    threshold: float = Field(default=1.0, ge=0, le=1)
    updated_by: str = Field(default="", max_length=64)
    updated_at: datetime = _ts(default_factory=utcnow)
    min_expected_precision: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Auto-issue only where the calibrated confidence reaches this (needs a calibration).",
    )


# ---------------------------------------------------------------- camera signing keys
class KeyStatus(StrEnum):
    active = "active"  # signs new records
    retired = "retired"  # rotated out: verifies records the camera confirmed before `retired_at`
    revoked = "revoked"  # compromised or withdrawn: verifies nothing


class CameraKey(SQLModel, table=True):
    """A camera's Ed25519 public key (`autofine keys generate`); key id as in `autofine.signing.key_id`."""

    id: int | None = Field(default=None, primary_key=True)
    camera_id: str = Field(max_length=64, index=True)
    key_id: str = Field(max_length=64, unique=True, index=True)
    public_key_pem: str = Field(sa_column=Column(Text, nullable=False))
    status: KeyStatus = Field(default=KeyStatus.active, sa_type=Text)
    created_at: datetime = _ts(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)
    retired_at: datetime | None = _ts(default=None)
    revoked_at: datetime | None = _ts(default=None)
    revoked_reason: str = Field(default="", max_length=500)


class CameraKeyPublic(SQLModel):
    camera_id: str
    key_id: str
    public_key_pem: str
    status: KeyStatus
    created_at: datetime
    created_by: str
    retired_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str


# ---------------------------------------------------------------- appeals
class AppealOutcome(StrEnum):
    upheld = "upheld"
    cancelled = "cancelled"
    amended = "amended"


class Appeal(SQLModel, table=True):
    """A contested fine: filed (case -> under_appeal, legal hold), then decided with a reason."""

    id: int | None = Field(default=None, primary_key=True)
    fine_id: int = Field(foreign_key="fine.id", index=True)
    filed_by: str = Field(max_length=100)
    grounds: str = Field(sa_column=Column(Text, nullable=False))
    filed_at: datetime = _ts(default_factory=utcnow)
    previous_status: str = Field(max_length=32)
    outcome: str | None = Field(default=None, max_length=16)
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = _ts(default=None)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    previous_amount_kzt: int
    new_amount_kzt: int | None = None
    erap_document: str | None = Field(default=None, max_length=200, description="Cancellation/amendment doc.")


class AppealPublic(SQLModel):
    id: int
    fine_id: int
    filed_by: str
    grounds: str
    filed_at: datetime
    previous_status: str
    outcome: str | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str
    previous_amount_kzt: int
    new_amount_kzt: int | None
    erap_document: str | None


# ---------------------------------------------------------------- confidence calibration
class Calibration(SQLModel, table=True):
    """Isotonic map raw violation confidence -> expected precision, for one type and one model version."""

    id: int | None = Field(default=None, primary_key=True)
    violation_type: str = Field(max_length=32, index=True)
    model_id: str = Field(max_length=128)
    model_version: str = Field(max_length=128)
    method: str = Field(default="isotonic", max_length=32)
    x_thresholds: str = Field(sa_column=Column(Text, nullable=False), description="JSON list of raw scores.")
    y_thresholds: str = Field(sa_column=Column(Text, nullable=False), description="JSON list of precisions.")
    events: int
    true_positives: int
    source: str = Field(default="", max_length=500, description="File the scored events came from.")
    source_sha256: str = Field(default="", max_length=64)
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = _ts(default_factory=utcnow)


class CalibrationPublic(SQLModel):
    id: int
    violation_type: str
    model_id: str
    model_version: str
    method: str
    events: int
    true_positives: int
    source: str
    source_sha256: str
    created_by: str
    created_at: datetime


class AuditEntry(SQLModel, table=True):
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = _ts()
    actor: str = Field(max_length=100)
    action: str = Field(max_length=64, index=True)
    target: str = Field(max_length=100, index=True)
    data: str = Field(sa_column=Column(Text, nullable=False), description="Canonical JSON (sorted keys).")
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """One row; updating it first serialises audit writers on SQLite and PostgreSQL alike."""

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)


class Export(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    fine_id: int = Field(foreign_key="fine.id", unique=True, index=True)
    adapter: str = Field(max_length=32)
    batch_id: str = Field(max_length=64, index=True)
    document_name: str = Field(max_length=200)
    sha256: str = Field(max_length=64)
    exported_at: datetime = _ts(default_factory=utcnow)


# ---------------------------------------------------------------- API-only schemas
class AIProvenance(BaseModel):
    """Machine-readable AI label (Kazakhstan AI law, art. 21) carried by every fine and notice."""

    generated_by_ai: bool = True
    system: str = "autofine"
    model_id: str
    model_version: str
    model_sha256: str
    thresholds: dict[str, float]
    confidence: float
    camera_id: str
    software_version: str
    config_hash: str
    decision_route: Literal["review", "auto"]
    human_confirmed: bool
    confirmed_by: str | None
    decided_at: datetime | None


class Notice(BaseModel):
    """Human-readable notice: detected automatically by an AI system, and how to contest it."""

    ru: str
    kk: str
    en: str


class FinePublic(FineBase):
    id: int
    violation_id: int
    version: int
    has_subject: bool
    document_kind: Literal["notice_of_violation", "fine"] = PField(
        default="notice_of_violation", description="A fine needs an identified subject; until then a notice."
    )
    claimed_by: str | None
    claim_expires_at: datetime | None
    provenance: AIProvenance
    notice: Notice


class FinesPublic(BaseModel):
    data: list[FinePublic]
    count: int


class CaseDetail(BaseModel):
    fine: FinePublic
    violation: ViolationPublic
    evidence: list[EvidencePublic]
    decisions: list[DecisionPublic]


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["confirm", "reject", "override"]
    reason_code: str | None = PField(default=None, max_length=64, description="See /api/v1/review/reasons")
    reason_text: str = PField(default="", max_length=4000, description="Required for reject and override")
    new_type: str | None = PField(default=None, max_length=32, description="Override only")
    new_amount_kzt: int | None = PField(default=None, ge=0, le=100_000_000, description="Override only")
    expected_version: int | None = PField(default=None, ge=0, description="Fail with 409 if the case changed")


class AuditVerifyResult(BaseModel):
    ok: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None
