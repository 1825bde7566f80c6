"""Camera signatures at intake: good, tampered record or file, unsigned, unknown, revoked, rotated keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select

from api import keys
from api.erap import verify_document
from api.models import AuditEntry, CameraKey
from autofine.contract import ViolationRecord
from autofine.signing import Ed25519Signer, verify
from tests.api.conftest import camera_signer, make_record, post


def _signed(record: dict, signer: Ed25519Signer) -> dict:
    return signer.sign(ViolationRecord.model_validate(record)).model_dump(mode="json")


def test_signatures_are_required_by_default(client, actors, snapshot_bytes):
    assert client.app.state.settings.require_signatures is True
    files = {"snapshot.jpg": snapshot_bytes}
    unsigned = make_record(files=files)
    response = client.post(
        "/api/v1/intake/violations",
        data={"record": json.dumps(unsigned)},
        files={"snapshot.jpg": ("snapshot.jpg", snapshot_bytes, "image/jpeg")},
        headers=actors.camera,
    )
    assert response.status_code == 422
    assert "not signed" in response.json()["detail"]


def test_good_signature_is_accepted_and_audited(client, actors, session, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    record = _signed(make_record(files=files), camera_signer("cam-1"))
    response = post(client, actors.camera, record, files)
    assert response.status_code == 201, response.text
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "intake")).one()
    assert json.loads(entry.data)["signing_key_id"] == record["signing_key_id"]


def test_tampered_record_is_refused(client, actors, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    record = _signed(make_record(files=files, confidence=0.6), camera_signer("cam-1"))
    record["confidence"] = 0.99  # changed after signing
    response = post(client, actors.camera, record, files)
    assert response.status_code == 422
    assert "does not verify" in response.json()["detail"]


def test_tampered_file_is_refused_by_its_hash(client, actors, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    record = _signed(make_record(files=files), camera_signer("cam-1"))
    tampered = bytearray(snapshot_bytes)
    tampered[1000] ^= 0xFF
    response = post(client, actors.camera, record, {"snapshot.jpg": bytes(tampered)})
    assert response.status_code == 422
    assert "sha256 mismatch" in response.json()["detail"]


def test_unknown_key_is_refused_with_the_fix(client, actors, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    stranger = Ed25519Signer.from_key(Ed25519PrivateKey.generate())
    record = _signed(make_record(files=files), stranger)
    response = post(client, actors.camera, record, files)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"unknown signing key {stranger.key_id} for camera cam-1: "
        "register it with `autofine admin camera-key add`"
    )


def test_another_cameras_key_is_refused(client, actors, session, snapshot_bytes):
    from api import bootstrap
    from tests.api.conftest import register_test_key

    bootstrap.register_camera(session, camera_id="cam-2")
    register_test_key(session, "cam-2")
    files = {"snapshot.jpg": snapshot_bytes}
    record = _signed(make_record(files=files, camera_id="cam-1"), camera_signer("cam-2"))  # a registered key
    response = post(client, actors.camera, record, files)
    assert response.status_code == 403
    assert "unknown signing key" in response.json()["detail"]


def test_revoked_key_is_refused_with_its_reason(client, actors, session, snapshot_bytes):
    kid = camera_signer("cam-1").key_id
    keys.revoke_key(session, key_id=kid, reason="camera housing opened", actor="test")
    files = {"snapshot.jpg": snapshot_bytes}
    response = post(client, actors.camera, make_record(files=files), files)
    assert response.status_code == 403
    assert "revoked (camera housing opened)" in response.json()["detail"]
    actions = [e.action for e in session.exec(select(AuditEntry)).all()]
    assert "camera.key_revoke" in actions


def test_rotated_key_verifies_records_from_before_the_rotation_only(client, actors, session, snapshot_bytes):
    old = camera_signer("cam-1")
    new = Ed25519Signer.from_key(Ed25519PrivateKey.generate())
    keys.add_key(
        session, camera_id="cam-1", public_key_pem=new.public_key_pem.decode(), actor="test", rotate=True
    )
    rows = {k.key_id: k for k in session.exec(select(CameraKey)).all()}
    assert (rows[old.key_id].status, rows[new.key_id].status) == ("retired", "active")
    files = {"snapshot.jpg": snapshot_bytes}

    before = _signed(make_record(files=files, onset=datetime(2026, 3, 1, 10, tzinfo=UTC)), old)
    assert post(client, actors.camera, before, files).status_code == 201

    after_onset = datetime.now(UTC) + timedelta(hours=1)
    late = _signed(make_record(files=files, onset=after_onset), old)
    response = post(client, actors.camera, late, files)
    assert response.status_code == 403
    assert "rotated out" in response.json()["detail"]

    fresh = _signed(make_record(files=files, onset=after_onset), new)
    assert post(client, actors.camera, fresh, files).status_code == 201


def test_unsigned_records_pass_only_when_signatures_are_not_required(tmp_path, db_url, snapshot_bytes):
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from api import bootstrap
    from api.app import create_app
    from api.settings import Settings
    from tests.api.conftest import SECRET

    app = create_app(
        Settings(data_dir=tmp_path / "d", database_url=db_url, secret_key=SECRET, require_signatures=False)
    )
    with Session(app.state.engine) as session:
        _, token = bootstrap.register_camera(session, camera_id="cam-1")
    files = {"snapshot.jpg": snapshot_bytes}
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        assert post(client, headers, make_record(files=files), files).status_code == 201
        # a signature that names an unknown key is still refused
        stranger = Ed25519Signer.from_key(Ed25519PrivateKey.generate())
        response = post(client, headers, _signed(make_record(files=files), stranger), files)
        assert response.status_code == 403
    app.state.engine.dispose()


def test_erap_document_carries_the_camera_signature(client, actors, session, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    record = _signed(make_record(files=files), camera_signer("cam-1"))
    fine_id = post(client, actors.camera, record, files).json()["fine_id"]
    client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=actors.reviewer)
    decided = client.post(
        f"/api/v1/review/cases/{fine_id}/decision", json={"action": "confirm"}, headers=actors.reviewer
    )
    assert decided.status_code == 200, decided.text
    assert client.post("/api/v1/admin/export", headers=actors.admin).json()["exported"] == [fine_id]
    root = client.app.state.settings.resolved_export_dir
    document = json.loads((root / "documents" / f"fine-{fine_id}.json").read_text())
    assert verify_document(document)
    fine = document["fine"]
    assert fine["camera_signature"]["key_id"] == record["signing_key_id"]
    assert fine["camera_signature"]["value"] == record["signature"]
    assert fine["document_kind"] == "notice_of_violation"  # nobody identified yet
    assert fine["location"] == {"address": "Abay ave 1, Almaty", "lat": 43.24, "lon": 76.91}
    # the register can check the camera's signature itself from the document alone
    camera_record = ViolationRecord.model_validate(fine["camera_record"])
    assert verify(camera_record, fine["camera_signature"]["public_key_pem"])
