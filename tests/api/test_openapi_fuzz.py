"""Schemathesis over the service's OpenAPI: no generated request may cause a server error (5xx).

One app per backend (module scope) with an admin token, a camera and one real case, so generated requests
reach the handlers rather than stopping at authentication. Bounded (few examples per operation)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import create_engine, text
from sqlmodel import Session

from api import bootstrap
from api.app import create_app
from api.security import issue_user_token
from api.settings import Settings
from tests.api.conftest import BACKENDS, PG_URL, SECRET, make_record, post, register_test_key


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_app(request, tmp_path_factory, shared_dir: Path):
    tmp = tmp_path_factory.mktemp("fuzz")
    schema_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'fuzz.sqlite3'}"
    else:
        schema_name = "fz_" + uuid.uuid4().hex[:12]
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema_name}"))
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema_name}"
    app = create_app(Settings(data_dir=tmp / "data", database_url=url, secret_key=SECRET))
    with Session(app.state.engine, expire_on_commit=False) as session:
        admin_user = bootstrap.create_user(
            session, username="fuzzadmin", password="fuzz-pass-1", role="admin"
        )
        _, camera_token = bootstrap.register_camera(session, camera_id="cam-1")
        register_test_key(session, "cam-1")
    snapshot = (
        shared_dir / "datasets" / "coco128" / "images" / "train2017" / "000000000009.jpg"
    ).read_bytes()
    with TestClient(app) as client:
        files = {"snapshot.jpg": snapshot}
        assert (
            post(
                client, {"Authorization": f"Bearer {camera_token}"}, make_record(files=files), files
            ).status_code
            == 201
        )
    app.state.fuzz_headers = {"Authorization": f"Bearer {issue_user_token(app.state.settings, admin_user)}"}
    yield app
    app.state.engine.dispose()
    if schema_name:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema_name} CASCADE"))
        admin.dispose()


def test_no_server_errors(fuzz_app):
    # Driven by hand (not schemathesis.pytest.from_fixture, which does not support pytest 9 yet).
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case) -> None:
            case.call_and_validate(headers=fuzz_app.state.fuzz_headers, checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:  # collect every failing operation, not just the first
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 20
    assert not failures, "\n\n".join(failures)
