"""Who is calling: people (reviewer/admin) by bearer token or session cookie, cameras by their own token.

People log in with a password (argon2 via pwdlib) and get either a signed bearer token
(`POST /api/v1/auth/token`) or a signed session cookie (web UI); `CurrentUser` accepts both. Cameras hold a
random token shown once at registration; only its sha256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pwdlib import PasswordHash
from sqlmodel import Session, select

from api.models import Camera, Role, User
from api.settings import Settings

_password_hash = PasswordHash.recommended()
_DUMMY_HASH = _password_hash.hash("not-a-real-password")
CAMERA_TOKEN_PREFIX = "afc_"
SESSION_USER_KEY = "uid"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
camera_scheme = HTTPBearer(auto_error=False, scheme_name="CameraToken", description="Per-camera token")


# ---------------------------------------------------------------- passwords and tokens
def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    return _password_hash.verify(password, hashed)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_camera_token() -> str:
    return CAMERA_TOKEN_PREFIX + secrets.token_urlsafe(32)


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="autofine.user-token")


def issue_user_token(settings: Settings, user: User) -> str:
    return _serializer(settings).dumps({"uid": user.id})


def user_id_from_token(settings: Settings, token: str) -> int | None:
    try:
        payload = _serializer(settings).loads(token, max_age=settings.access_token_minutes * 60)
    except (BadSignature, SignatureExpired):
        return None
    uid = payload.get("uid") if isinstance(payload, dict) else None
    return uid if isinstance(uid, int) else None


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        verify_password(password, _DUMMY_HASH)  # same work whether or not the user exists
        return None
    if not user.active or not verify_password(password, user.hashed_password):
        return None
    return user


def login_session(request: Request, user: User) -> None:
    """Web UI login: store the user id in the signed session cookie."""
    request.session.clear()
    request.session[SESSION_USER_KEY] = user.id


def logout_session(request: Request) -> None:
    request.session.clear()


def camera_for_token(session: Session, token: str) -> Camera | None:
    camera = session.exec(select(Camera).where(Camera.token_sha256 == hash_token(token))).first()
    return camera if camera is not None and camera.active else None


# ---------------------------------------------------------------- dependencies
def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
#: A row id in a URL path: bounded so no backend sees an integer it cannot store.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
SessionDep = Annotated[Session, Depends(get_session)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    uid: int | None = None
    if token:
        uid = user_id_from_token(settings, token)
        if uid is None:
            if camera_for_token(session, token) is not None:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN, detail="camera tokens may only post violations"
                )
            raise _unauthorized("invalid or expired token; log in again at /api/v1/auth/token")
    elif "session" in request.scope:
        raw = request.session.get(SESSION_USER_KEY)
        uid = raw if isinstance(raw, int) else None
    if uid is None:
        raise _unauthorized("not authenticated")
    user = session.get(User, uid)
    if user is None or not user.active:
        raise _unauthorized("user is unknown or disabled")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_reviewer(user: CurrentUser) -> User:
    if user.role not in (Role.reviewer, Role.admin):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="reviewer role required")
    return user


def get_current_admin(user: CurrentUser) -> User:
    if user.role != Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="admin role required")
    return user


CurrentReviewer = Annotated[User, Depends(get_current_reviewer)]
CurrentAdmin = Annotated[User, Depends(get_current_admin)]


def get_current_camera(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(camera_scheme)],
) -> Camera:
    if credentials is None:
        raise _unauthorized("camera token required (Authorization: Bearer <token>)")
    camera = camera_for_token(session, credentials.credentials)
    if camera is None:
        if user_id_from_token(settings, credentials.credentials) is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only cameras may post violations")
        raise _unauthorized("unknown or disabled camera token")
    return camera


CurrentCamera = Annotated[Camera, Depends(get_current_camera)]
