"""Fine lifecycle and evidence integrity: appeals, legal hold, camera keys, calibrations, anchors."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from api import anchors, appeals, keys
from api.errors import NotFound
from api.models import AppealPublic, Calibration, CalibrationPublic, CameraKeyPublic, User
from api.security import CurrentAdmin, CurrentReviewer, RowId, SessionDep

router = APIRouter(prefix="/api/v1", tags=["legal"])


def _actor(user: User) -> str:
    return f"user:{user.username}"


class AppealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grounds: str = Field(min_length=1, max_length=4000, description="What the person contests, as received")


class AppealDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["upheld", "cancelled", "amended"]
    reason: str = Field(min_length=1, max_length=4000)
    new_amount_kzt: int | None = Field(default=None, ge=0, le=100_000_000, description="Amended only")


class HoldRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_key_pem: str = Field(min_length=40, max_length=2000, description="Ed25519 public key, PEM")
    rotate: bool = Field(default=False, description="Retire the camera's other active keys now")


class KeyRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class AnchorResult(BaseModel):
    written: bool
    seq: int | None
    hash: str | None


class AnchoredVerify(BaseModel):
    ok: bool
    entries: int
    anchors: int
    first_broken_seq: int | None
    reason: str | None
    last_good_anchor_seq: int | None
    last_good_anchor_at: str | None


def _appeal(row) -> AppealPublic:
    return AppealPublic.model_validate(row, from_attributes=True)


@router.get("/fines/{fine_id}/appeals", response_model=list[AppealPublic])
def list_appeals(fine_id: RowId, session: SessionDep, _: CurrentReviewer) -> list[AppealPublic]:
    return [_appeal(a) for a in appeals.appeals_of(session, fine_id)]


@router.post("/fines/{fine_id}/appeals", response_model=AppealPublic, status_code=status.HTTP_201_CREATED)
def file_appeal(
    fine_id: RowId, body: AppealCreate, session: SessionDep, user: CurrentReviewer
) -> AppealPublic:
    return _appeal(appeals.file_appeal(session, fine_id=fine_id, actor=_actor(user), grounds=body.grounds))


@router.post("/fines/{fine_id}/appeals/decision", response_model=AppealPublic)
def decide_appeal(
    fine_id: RowId, body: AppealDecision, request: Request, session: SessionDep, admin: CurrentAdmin
) -> AppealPublic:
    row = appeals.decide_appeal(
        session,
        fine_id=fine_id,
        actor=_actor(admin),
        outcome=body.outcome,
        reason=body.reason,
        new_amount_kzt=body.new_amount_kzt,
        adapter=request.app.state.erap_adapter,
    )
    return _appeal(row)


@router.post("/fines/{fine_id}/legal-hold/release")
def release_hold(fine_id: RowId, body: HoldRelease, session: SessionDep, admin: CurrentAdmin) -> dict:
    fine = appeals.release_hold(session, fine_id=fine_id, actor=_actor(admin), reason=body.reason)
    return {"fine_id": fine.id, "legal_hold": fine.legal_hold}


@router.get("/admin/cameras/{camera_id}/keys", response_model=list[CameraKeyPublic])
def list_keys(camera_id: str, session: SessionDep, _: CurrentAdmin) -> list[CameraKeyPublic]:
    return [
        CameraKeyPublic.model_validate(k, from_attributes=True)
        for k in keys.list_keys(session, camera_id=camera_id)
    ]


@router.post(
    "/admin/cameras/{camera_id}/keys", response_model=CameraKeyPublic, status_code=status.HTTP_201_CREATED
)
def add_key(camera_id: str, body: KeyCreate, session: SessionDep, admin: CurrentAdmin) -> CameraKeyPublic:
    row = keys.add_key(
        session,
        camera_id=camera_id,
        public_key_pem=body.public_key_pem,
        actor=_actor(admin),
        rotate=body.rotate,
    )
    return CameraKeyPublic.model_validate(row, from_attributes=True)


@router.post("/admin/keys/{key_id}/revoke", response_model=CameraKeyPublic)
def revoke_key(key_id: str, body: KeyRevoke, session: SessionDep, admin: CurrentAdmin) -> CameraKeyPublic:
    row = keys.revoke_key(session, key_id=key_id, reason=body.reason, actor=_actor(admin))
    return CameraKeyPublic.model_validate(row, from_attributes=True)


@router.get("/admin/calibrations", response_model=list[CalibrationPublic])
def list_calibrations(session: SessionDep, _: CurrentAdmin) -> list[CalibrationPublic]:
    rows = session.exec(select(Calibration).order_by(col(Calibration.id).desc())).all()
    return [CalibrationPublic.model_validate(r, from_attributes=True) for r in rows]


@router.post("/admin/audit/anchor", response_model=AnchorResult)
def write_anchor(request: Request, session: SessionDep, _: CurrentAdmin) -> AnchorResult:
    anchor = anchors.write_anchor(session, anchor_dir=request.app.state.settings.resolved_anchor_dir)
    return AnchorResult(
        written=anchor is not None, seq=anchor.seq if anchor else None, hash=anchor.hash if anchor else None
    )


@router.get("/admin/audit/verify-anchors", response_model=AnchoredVerify)
def verify_anchors(request: Request, session: SessionDep, _: CurrentAdmin) -> AnchoredVerify:
    try:
        result = anchors.verify_against_anchors(
            session, anchor_dir=request.app.state.settings.resolved_anchor_dir
        )
    except ValueError as exc:
        raise NotFound(str(exc)) from exc
    good = result.last_good_anchor
    return AnchoredVerify(
        ok=result.ok,
        entries=result.entries,
        anchors=result.anchors,
        first_broken_seq=result.first_broken_seq,
        reason=result.reason,
        last_good_anchor_seq=good.seq if good else None,
        last_good_anchor_at=good.at if good else None,
    )
