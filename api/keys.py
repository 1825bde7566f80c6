"""Camera signing keys: register, rotate, revoke, and verify a record's signature at intake.

A camera signs each record with its Ed25519 key (`autofine.signing`); the service keeps the public keys.
- add: a new active key for a camera.
- rotate: a new active key; the camera's other active keys become `retired` at that moment and still verify
  records the camera confirmed before it (evidence produced before the rotation must stay provable).
- revoke: the key verifies nothing any more (a stolen key must not be usable to back-date records).
Every change is audited.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from api import audit
from api.db import as_utc, utcnow
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.models import Camera, CameraKey, KeyStatus
from autofine.contract import ViolationRecord
from autofine.errors import UserError
from autofine.signing import key_id_from_pem, verify


def _camera(session: Session, camera_id: str) -> Camera:
    camera = session.exec(select(Camera).where(Camera.camera_id == camera_id)).first()
    if camera is None:
        raise NotFound(
            f"camera '{camera_id}' is not registered; `autofine admin register-camera {camera_id}`"
        )
    return camera


def _key_id(public_key_pem: str) -> str:
    try:
        return key_id_from_pem(public_key_pem)
    except UserError as exc:
        raise Invalid(str(exc)) from exc


def list_keys(session: Session, *, camera_id: str | None = None) -> list[CameraKey]:
    stmt = select(CameraKey).order_by(CameraKey.id)
    if camera_id is not None:
        stmt = stmt.where(CameraKey.camera_id == camera_id)
    return list(session.exec(stmt).all())


def add_key(
    session: Session, *, camera_id: str, public_key_pem: str, actor: str, rotate: bool = False
) -> CameraKey:
    """Register an active public key for `camera_id`; `rotate` retires the camera's other active keys."""
    _camera(session, camera_id)
    kid = _key_id(public_key_pem)
    existing = session.exec(select(CameraKey).where(CameraKey.key_id == kid)).first()
    if existing is not None:
        raise Conflict(f"key {kid} is already registered (camera {existing.camera_id}, {existing.status})")
    now = utcnow()
    retired: list[str] = []
    if rotate:
        for old in session.exec(
            select(CameraKey).where(
                CameraKey.camera_id == camera_id, CameraKey.status == str(KeyStatus.active)
            )
        ).all():
            old.status, old.retired_at = KeyStatus.retired, now
            session.add(old)
            retired.append(old.key_id)
    row = CameraKey(
        camera_id=camera_id,
        key_id=kid,
        public_key_pem=public_key_pem.strip() + "\n",
        status=KeyStatus.active,
        created_at=now,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="camera.key_rotate" if rotate else "camera.key_add",
        target=f"camera:{camera_id}",
        data={"key_id": kid, "retired": retired},
    )
    session.commit()
    return row


def revoke_key(session: Session, *, key_id: str, reason: str, actor: str) -> CameraKey:
    if not reason.strip():
        raise Invalid("say why the key is revoked (reason)")
    row = session.exec(select(CameraKey).where(CameraKey.key_id == key_id)).first()
    if row is None:
        raise NotFound(f"signing key {key_id} is not registered")
    if row.status == KeyStatus.revoked:
        raise Conflict(f"signing key {key_id} is already revoked")
    previous = str(row.status)
    row.status, row.revoked_at, row.revoked_reason = KeyStatus.revoked, utcnow(), reason.strip()
    session.add(row)
    audit.record(
        session=session,
        actor=actor,
        action="camera.key_revoke",
        target=f"camera:{row.camera_id}",
        data={"key_id": key_id, "previous_status": previous, "reason": row.revoked_reason},
    )
    session.commit()
    return row


def public_key_for(session: Session, key_id: str | None) -> CameraKey | None:
    if not key_id:
        return None
    return session.exec(select(CameraKey).where(CameraKey.key_id == key_id)).first()


def check_record_signature(session: Session, record: ViolationRecord, *, required: bool) -> CameraKey | None:
    """The key that verified `record`, or None for an unsigned record when signatures are not required.

    Raises `Invalid` (422) for a missing or non-verifying signature and `Forbidden` (403) for a key that is
    unknown, another camera's, revoked, or retired before the record was confirmed.
    """
    if not record.signature and not record.signing_key_id:
        if required:
            raise Invalid(
                f"record from camera {record.camera_id} is not signed; configure the camera's signing_key "
                "(`autofine keys generate`) and register it with `autofine admin camera-key add`"
            )
        return None
    key = public_key_for(session, record.signing_key_id)
    if key is None or key.camera_id != record.camera_id:
        raise Forbidden(
            f"unknown signing key {record.signing_key_id} for camera {record.camera_id}: "
            "register it with `autofine admin camera-key add`"
        )
    if key.status == KeyStatus.revoked:
        raise Forbidden(
            f"signing key {key.key_id} of camera {record.camera_id} was revoked "
            f"({key.revoked_reason}); the record is refused"
        )
    if key.status == KeyStatus.retired and not _before(record.confirmed_at, key.retired_at):
        raise Forbidden(
            f"signing key {key.key_id} of camera {record.camera_id} was rotated out at "
            f"{key.retired_at.isoformat() if key.retired_at else '?'}; the record is dated after that"
        )
    if not verify(record, key.public_key_pem):
        raise Invalid(
            f"signature of record {record.idempotency_key} does not verify with key {key.key_id}: "
            "the record was changed after the camera signed it"
        )
    return key


def _before(moment: datetime, limit: datetime | None) -> bool:
    try:
        return limit is not None and as_utc(moment) <= as_utc(limit)
    except ValueError:
        return False
