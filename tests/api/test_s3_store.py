"""S3EvidenceStore against a real S3-compatible HTTP server on 127.0.0.1 (moto's standalone server, PyPI).

MinIO's server binary cannot be downloaded here; moto[server] speaks the S3 REST API over HTTP, so boto3
goes through its real signing, HTTP and XML code paths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.evidence_store import S3EvidenceStore, make_evidence_store
from api.settings import Settings
from tests.api.conftest import SECRET, make_record, post
from tests.e2e.conftest import free_port

BUCKET = "autofine-evidence"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> str:
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    return s3_endpoint


@pytest.fixture
def store(s3_env: str, tmp_path: Path) -> S3EvidenceStore:
    return S3EvidenceStore(bucket=BUCKET, endpoint_url=s3_env, region="us-east-1", cache_dir=tmp_path)


def test_put_read_verify_delete_roundtrip(store: S3EvidenceStore, snapshot_bytes: bytes) -> None:
    digest = hashlib.sha256(snapshot_bytes).hexdigest()
    key = store.put(snapshot_bytes, expected_sha256=digest)
    assert store.exists(key)
    assert store.read(key) == snapshot_bytes  # bytes unchanged in the bucket
    head = store.client.head_object(Bucket=BUCKET, Key=store.object_name(key))
    assert head["Metadata"]["sha256"] == digest
    path = store.open_verified(key, expected_sha256=digest)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert store.delete(key) is True
    assert not store.exists(key)
    assert store.delete(key) is False
    with pytest.raises(FileNotFoundError):
        store.open_verified(key, expected_sha256=digest)


def test_put_refuses_bytes_that_do_not_match(store: S3EvidenceStore) -> None:
    with pytest.raises(ValueError, match="sha256 mismatch"):
        store.put(b"tampered", expected_sha256="0" * 64)
    listed = store.client.list_objects_v2(Bucket=BUCKET, Prefix="evidence/").get("Contents", [])
    assert all(obj["Size"] != len(b"tampered") for obj in listed)


def test_tampered_object_is_caught_on_read(store: S3EvidenceStore) -> None:
    data = b"original evidence bytes"
    digest = hashlib.sha256(data).hexdigest()
    key = store.put(data, expected_sha256=digest)
    store.client.put_object(Bucket=BUCKET, Key=store.object_name(key), Body=b"changed in the bucket")
    with pytest.raises(ValueError, match="no longer matches"):
        store.open_verified(key, expected_sha256=digest)


def test_keys_never_come_from_clients(store: S3EvidenceStore) -> None:
    for bad in ("../etc/passwd", "A" * 32, "", "0" * 31):
        with pytest.raises(ValueError):
            store.object_name(bad)


def test_service_intake_and_review_read_through_s3(
    s3_env: str, tmp_path: Path, snapshot_bytes: bytes
) -> None:
    """The whole service on the S3 backend: intake stores into the bucket, the review route serves the
    verified bytes, and the audit records the same sha256 the camera declared."""
    from fastapi.testclient import TestClient
    from sqlmodel import Session, select

    from api import bootstrap
    from api.app import create_app
    from api.models import Evidence
    from api.security import issue_user_token

    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        secret_key=SECRET,
        evidence_backend="s3",
        s3_bucket=BUCKET,
        s3_endpoint_url=s3_env,
        s3_region="us-east-1",
        require_signatures=False,  # signatures are tested in test_keys; this test is about storage
    )
    assert isinstance(make_evidence_store(settings), S3EvidenceStore)
    app = create_app(settings)
    with TestClient(app) as client, Session(app.state.engine) as session:
        token = bootstrap.ensure_camera(session, camera_id="cam-1")
        files = {"snapshot.jpg": snapshot_bytes}
        response = post(client, {"Authorization": f"Bearer {token}"}, make_record(files=files), files)
        assert response.status_code == 201, response.text
        evidence = session.exec(select(Evidence)).one()
        assert evidence.sha256 == hashlib.sha256(snapshot_bytes).hexdigest()
        store = app.state.evidence_store
        assert store.read(evidence.storage_key) == snapshot_bytes
        assert not (tmp_path / "data" / "evidence").exists()  # nothing written to the local folder
        user = bootstrap.create_user(session, username="rev", password="pw-123456789", role="reviewer")
        headers = {"Authorization": f"Bearer {issue_user_token(settings, user)}"}
        got = client.get(f"/api/v1/evidence/{evidence.id}", headers=headers)
        assert got.status_code == 200, got.text
        assert got.content == snapshot_bytes
    app.state.engine.dispose()
