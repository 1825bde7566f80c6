"""Fixtures for the fine service.

A fresh database per test on SQLite and, when AUTOFINE_TEST_PG_URL is set, on PostgreSQL (a throwaway schema
per test); an app, a client, and real users/cameras created through the service's own bootstrap functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session

from api import bootstrap, keys
from api.app import create_app
from api.security import issue_user_token
from api.settings import Settings
from autofine.contract import ViolationRecord
from autofine.signing import Ed25519Signer

PG_URL = os.environ.get("AUTOFINE_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])
SECRET = "test-secret-key-0123456789"


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    request.applymarker(pytest.mark.postgres)
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=db_url, secret_key=SECRET, claim_lease_seconds=600
    )


@pytest.fixture
def app(settings: Settings):
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def session(app) -> Iterator[Session]:
    with Session(app.state.engine, expire_on_commit=False) as db_session:
        yield db_session


@dataclass
class Actors:
    camera_id: str
    camera_token: str
    admin: dict[str, str]
    reviewer: dict[str, str]
    reviewer2: dict[str, str]

    @property
    def camera(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.camera_token}"}


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def actors(client: TestClient, session: Session) -> Actors:
    settings = client.app.state.settings
    tokens = {}
    for username, role in (("admin", "admin"), ("alice", "reviewer"), ("bob", "reviewer")):
        user = bootstrap.create_user(session, username=username, password=f"{username}-pass-1", role=role)
        # Tokens issued directly (argon2 verification per login is slow on a loaded CI box); the login
        # endpoint itself is tested in test_security.py.
        tokens[username] = {"Authorization": f"Bearer {issue_user_token(settings, user)}"}
    _, token = bootstrap.register_camera(session, camera_id="cam-1", name="Test crossing")
    register_test_key(session, "cam-1")
    return Actors(
        camera_id="cam-1",
        camera_token=token,
        admin=tokens["admin"],
        reviewer=tokens["alice"],
        reviewer2=tokens["bob"],
    )


@pytest.fixture(scope="session")
def snapshot_bytes(shared_dir: Path) -> bytes:
    """A real JPEG (COCO128) standing in for a camera snapshot."""
    return (shared_dir / "datasets" / "coco128" / "images" / "train2017" / "000000000009.jpg").read_bytes()


def make_record(
    *,
    files: dict[str, bytes],
    camera_id: str = "cam-1",
    incident_id: str | None = None,
    violation_type: str = "littering",
    confidence: float = 0.8,
    onset: datetime | None = None,
) -> dict:
    onset = onset or datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    return {
        "camera_id": camera_id,
        "incident_id": incident_id or uuid.uuid4().hex,
        "violation_type": violation_type,
        "onset": onset.isoformat(),
        "confirmed_at": (onset + timedelta(seconds=4)).isoformat(),
        "track_id": 7,
        "confidence": confidence,
        "boxes": [
            {
                "frame_index": 10,
                "timestamp": onset.isoformat(),
                "xyxy": [10.0, 20.0, 110.0, 220.0],
                "confidence": 0.9,
                "rule_score": 0.8,
            }
        ],
        "model": {"id": "yolox-nano", "version": "0.1", "sha256": "c" * 64},
        "config_hash": "d" * 64,
        "thresholds": {"detector_confidence": 0.4, "violation_confidence": 0.6},
        "software_version": "0.1.0",
        "location": {"address": "Abay ave 1, Almaty", "latitude": 43.24, "longitude": 76.91},
        "redaction": {"method": "gaussian-blur", "regions": 3},
        "evidence": [
            {
                "name": name,
                "kind": "snapshot",
                "media_type": "image/jpeg",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
            for name, data in files.items()
        ],
    }


_TEST_KEYS: dict[str, Ed25519PrivateKey] = {}


def camera_signer(camera_id: str) -> Ed25519Signer:
    """The camera's signing key in these tests (one per camera id, made on first use)."""
    return Ed25519Signer.from_key(_TEST_KEYS.setdefault(camera_id, Ed25519PrivateKey.generate()))


def register_test_key(session: Session, camera_id: str) -> None:
    """Register the test key of `camera_id` at the service (intake requires signed records by default)."""
    pem = camera_signer(camera_id).public_key_pem.decode()
    keys.add_key(session, camera_id=camera_id, public_key_pem=pem, actor="test")


def signed(record: dict) -> dict:
    """`record` signed by its camera's test key, as a camera sends it (unchanged if not a valid record)."""
    if record.get("signature") is not None:
        return record
    try:
        parsed = ViolationRecord.model_validate(record)
    except ValueError:
        return record
    return camera_signer(parsed.camera_id).sign(parsed).model_dump(mode="json")


def _requires_signature(client) -> bool:
    app = getattr(client, "app", None)  # a TestClient has its app; an httpx client to a live server has not
    return app.state.settings.require_signatures if app is not None else True


def post(client, headers: dict[str, str], record: dict, files: dict[str, bytes]):
    return client.post(
        "/api/v1/intake/violations",
        data={"record": json.dumps(signed(record) if _requires_signature(client) else record)},
        files={name: (name, data, "image/jpeg") for name, data in files.items()},
        headers=headers,
    )


@pytest.fixture
def new_case(client: TestClient, actors: Actors, snapshot_bytes: bytes):
    """Post a fresh violation; returns its fine id."""

    def _make(**kwargs) -> int:
        files = {"snapshot.jpg": snapshot_bytes}
        response = post(client, actors.camera, make_record(files=files, **kwargs), files)
        assert response.status_code == 201, response.text
        return response.json()["fine_id"]

    return _make


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The same app served by a real uvicorn on a loopback port (for genuinely concurrent requests)."""
    from tests.live_server import serve

    with serve(app) as url:
        yield url
