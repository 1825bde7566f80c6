from __future__ import annotations

import pytest

from api import bootstrap
from api.errors import Conflict, Invalid
from api.security import authenticate, camera_for_token


def test_ensure_camera_and_user_are_idempotent(session):
    first = bootstrap.ensure_camera(session, camera_id="demo-cam")
    second = bootstrap.ensure_camera(session, camera_id="demo-cam")
    assert first != second  # the old token cannot be recovered, so a new one is issued
    assert camera_for_token(session, first) is None
    assert camera_for_token(session, second).camera_id == "demo-cam"

    user = bootstrap.ensure_user(session, username="demo", password="first-pass", role="reviewer")
    again = bootstrap.ensure_user(session, username="demo", password="second-pass", role="admin")
    assert again.id == user.id and again.role == "admin"
    assert authenticate(session, "demo", "first-pass") is None
    assert authenticate(session, "demo", "second-pass").id == user.id


def test_create_refuses_duplicates_and_bad_input(session):
    bootstrap.create_user(session, username="once", password="long-enough", role="reviewer")
    with pytest.raises(Conflict):
        bootstrap.create_user(session, username="once", password="long-enough", role="reviewer")
    with pytest.raises(Invalid):
        bootstrap.create_user(session, username="short", password="short", role="reviewer")
    with pytest.raises(Invalid):
        bootstrap.set_auto_issue(session, violation_type="speeding", enabled=True, threshold=0.9, actor="t")
