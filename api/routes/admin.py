"""Admin: users, cameras, auto-issue policy, schedule, audit verification, ERAP export, retention."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from api import audit, bootstrap
from api.erap import export_fines
from api.models import (
    AuditVerifyResult,
    AutoIssuePolicy,
    Camera,
    CameraPublic,
    User,
    UserCreate,
    UserPublic,
)
from api.retention import run_retention
from api.security import CurrentAdmin, SessionDep
from autofine.contract import ViolationType

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class CameraCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=500)


class CameraWithToken(BaseModel):
    camera: CameraPublic
    token: str = Field(description="Shown once; only its sha256 is stored.")


class AutoIssueUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool
    threshold: float = Field(ge=0, le=1, description="Minimum violation confidence for auto-issue")


class AutoIssuePublic(BaseModel):
    violation_type: str
    enabled: bool
    threshold: float
    updated_by: str


class ExportResult(BaseModel):
    batch_id: str
    exported: list[int]
    skipped: list[int]
    manifest: str | None


class RetentionResult(BaseModel):
    deleted_evidence: list[int]
    cases: list[int]


def _actor(user: User) -> str:
    return f"user:{user.username}"


@router.get("/users", response_model=list[UserPublic])
def list_users(session: SessionDep, _: CurrentAdmin) -> list[UserPublic]:
    return [UserPublic.model_validate(u, from_attributes=True) for u in session.exec(select(User)).all()]


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, admin: CurrentAdmin) -> UserPublic:
    user = bootstrap.create_user(
        session,
        username=body.username,
        password=body.password,
        role=body.role,
        full_name=body.full_name,
        actor=_actor(admin),
    )
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/cameras", response_model=list[CameraPublic])
def list_cameras(session: SessionDep, _: CurrentAdmin) -> list[CameraPublic]:
    return [CameraPublic.model_validate(c, from_attributes=True) for c in session.exec(select(Camera)).all()]


@router.post("/cameras", response_model=CameraWithToken, status_code=status.HTTP_201_CREATED)
def register_camera(body: CameraCreate, session: SessionDep, admin: CurrentAdmin) -> CameraWithToken:
    camera, token = bootstrap.register_camera(
        session, camera_id=body.camera_id, name=body.name, address=body.address, actor=_actor(admin)
    )
    return CameraWithToken(camera=CameraPublic.model_validate(camera, from_attributes=True), token=token)


@router.get("/policy", response_model=list[AutoIssuePublic])
def get_policy(session: SessionDep, _: CurrentAdmin) -> list[AutoIssuePublic]:
    rows = session.exec(select(AutoIssuePolicy)).all()
    return [AutoIssuePublic.model_validate(r, from_attributes=True) for r in rows]


@router.put("/policy/{violation_type}", response_model=AutoIssuePublic)
def set_policy(
    violation_type: ViolationType, body: AutoIssueUpdate, session: SessionDep, admin: CurrentAdmin
) -> AutoIssuePublic:
    row = bootstrap.set_auto_issue(
        session,
        violation_type=violation_type,
        enabled=body.enabled,
        threshold=body.threshold,
        actor=_actor(admin),
    )
    return AutoIssuePublic.model_validate(row, from_attributes=True)


@router.get("/schedule")
def get_schedule(request: Request, _: CurrentAdmin) -> dict:
    return request.app.state.schedule.model_dump(mode="json")


@router.get("/audit/verify", response_model=AuditVerifyResult)
def verify_audit(session: SessionDep, _: CurrentAdmin) -> AuditVerifyResult:
    return audit.verify(session)


@router.post("/export", response_model=ExportResult)
def export(request: Request, session: SessionDep, admin: CurrentAdmin) -> ExportResult:
    summary = export_fines(session, adapter=request.app.state.erap_adapter, actor=_actor(admin))
    return ExportResult(**summary.__dict__)


@router.post("/retention", response_model=RetentionResult)
def retention(request: Request, session: SessionDep, admin: CurrentAdmin) -> RetentionResult:
    settings = request.app.state.settings
    summary = run_retention(
        session,
        store=request.app.state.evidence_store,
        rejected_days=settings.retention_rejected_days,
        evidence_days=settings.retention_evidence_days,
        actor=_actor(admin),
    )
    return RetentionResult(**summary.__dict__)
