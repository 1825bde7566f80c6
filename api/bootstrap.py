"""Programmatic setup used by the CLI, the demo and tests: open the database, create users and cameras.

Every change goes through the audit log like a change made over HTTP.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api import audit
from api.db import make_engine, migrate, utcnow
from api.errors import Conflict, Invalid, NotFound
from api.models import AutoIssuePolicy, Camera, Role, User
from api.security import hash_password, hash_token, new_camera_token
from api.settings import Settings
from autofine.contract import VIOLATION_TYPES


def open_engine(settings: Settings, *, run_migrations: bool = True) -> Engine:
    engine = make_engine(settings.resolved_database_url)
    if run_migrations:
        migrate(engine)
    return engine


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    full_name: str = "",
    actor: str = "system",
) -> User:
    if len(password) < 8:
        raise Invalid("password must have at least 8 characters")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"user '{username}' already exists")
    user = User.model_validate(
        {
            "username": username,
            "full_name": full_name,
            "role": Role(role),
            "hashed_password": hash_password(password),
        }
    )
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.create",
        target=f"user:{user.id}",
        data={"username": username, "role": str(user.role)},
    )
    session.commit()
    return user


def ensure_user(
    session: Session, *, username: str, password: str, role: Role | str, actor: str = "system"
) -> User:
    """Create the user, or reset an existing user's password and role (idempotent, for demos and setup)."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        return create_user(session, username=username, password=password, role=role, actor=actor)
    user.hashed_password = hash_password(password)
    user.role = Role(role)
    user.active = True
    session.add(user)
    audit.record(
        session=session,
        actor=actor,
        action="user.reset",
        target=f"user:{user.id}",
        data={"username": username, "role": str(user.role)},
    )
    session.commit()
    return user


def register_camera(
    session: Session, *, camera_id: str, name: str = "", address: str = "", actor: str = "system"
) -> tuple[Camera, str]:
    """Register a camera; returns it and its token (shown once: only the token's sha256 is stored)."""
    if session.exec(select(Camera).where(Camera.camera_id == camera_id)).first() is not None:
        raise Conflict(f"camera '{camera_id}' already exists; rotate its token instead")
    token = new_camera_token()
    camera = Camera.model_validate(
        {"camera_id": camera_id, "name": name, "address": address, "token_sha256": hash_token(token)}
    )
    session.add(camera)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="camera.register",
        target=f"camera:{camera_id}",
        data={"name": name},
    )
    session.commit()
    return camera, token


def rotate_camera_token(session: Session, *, camera_id: str, actor: str = "system") -> str:
    camera = session.exec(select(Camera).where(Camera.camera_id == camera_id)).first()
    if camera is None:
        raise NotFound(f"camera '{camera_id}' is not registered")
    token = new_camera_token()
    camera.token_sha256 = hash_token(token)
    camera.active = True
    session.add(camera)
    audit.record(session=session, actor=actor, action="camera.rotate_token", target=f"camera:{camera_id}")
    session.commit()
    return token


def ensure_camera(session: Session, *, camera_id: str, name: str = "", actor: str = "system") -> str:
    """A working token for `camera_id`: registers it, or rotates the token of an existing camera."""
    if session.exec(select(Camera).where(Camera.camera_id == camera_id)).first() is None:
        return register_camera(session, camera_id=camera_id, name=name, actor=actor)[1]
    return rotate_camera_token(session, camera_id=camera_id, actor=actor)


def set_auto_issue(
    session: Session, *, violation_type: str, enabled: bool, threshold: float, actor: str
) -> AutoIssuePolicy:
    """Enable or disable issuing fines without a human for one type at a raw confidence threshold (audited).

    Replaces an expected-precision target set before (api/calibration.py): intake applies that target
    whenever it is set, so keeping it would silently ignore this threshold."""
    if violation_type not in VIOLATION_TYPES:
        raise Invalid(f"violation_type must be one of {', '.join(VIOLATION_TYPES)}")
    if not 0 <= threshold <= 1:
        raise Invalid("threshold must be between 0 and 1")
    return update_auto_issue_policy(
        session,
        violation_type=violation_type,
        changes={"enabled": enabled, "threshold": threshold, "min_expected_precision": None},
        actor=actor,
    )


def update_auto_issue_policy(
    session: Session, *, violation_type: str, changes: dict[str, bool | float | None], actor: str
) -> AutoIssuePolicy:
    """Write `changes` (already validated) into one type's auto-issue switch, auditing before and after."""
    row = session.get(AutoIssuePolicy, violation_type) or AutoIssuePolicy(violation_type=violation_type)
    before = {name: getattr(row, name) for name in changes}
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_by, row.updated_at = actor, utcnow()
    session.add(row)
    audit.record(
        session=session,
        actor=actor,
        action="policy.auto_issue",
        target=f"policy:{violation_type}",
        data={"before": before, "after": changes},
    )
    session.commit()
    return row
