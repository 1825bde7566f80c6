"""Login for people: a bearer token (API clients) or a session cookie (web UI). Same users, same roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.models import UserPublic
from api.security import (
    CurrentUser,
    SessionDep,
    SettingsDep,
    authenticate,
    issue_user_token,
    login_session,
    logout_session,
)

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


@router.post("/token", response_model=Token)
def login_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> Token:
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong username or password")
    return Token(access_token=issue_user_token(settings, user))


@router.post("/session", response_model=UserPublic)
def login_cookie(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep
) -> UserPublic:
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong username or password")
    login_session(request, user)
    return UserPublic.model_validate(user, from_attributes=True)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
def logout_cookie(request: Request) -> None:
    logout_session(request)


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)
