from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.evidence_store import LocalEvidenceStore
from api.settings import Settings


def _evidence_id(client, actors, fine_id) -> int:
    return client.get(f"/api/v1/fines/{fine_id}", headers=actors.reviewer).json()["evidence"][0]["id"]


def test_password_login_gives_token_and_cookie(client, actors):
    bad = client.post("/api/v1/auth/token", data={"username": "alice", "password": "wrong-password"})
    assert bad.status_code == 401
    token = client.post("/api/v1/auth/token", data={"username": "alice", "password": "alice-pass-1"})
    assert token.status_code == 200
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["username"] == "alice" and "hashed_password" not in me.json()
    # cookie session: the same dependencies accept it
    assert client.get("/api/v1/review/cases").status_code == 401
    assert (
        client.post("/api/v1/auth/session", data={"username": "bob", "password": "bob-pass-1"}).status_code
        == 200
    )
    assert client.get("/api/v1/auth/me").json()["username"] == "bob"
    assert client.get("/api/v1/review/cases").status_code == 200
    assert client.delete("/api/v1/auth/session").status_code == 204
    assert client.get("/api/v1/review/cases").status_code == 401


def test_camera_cannot_review_or_see_evidence(client, actors, new_case):
    fine_id = new_case()
    evidence_id = _evidence_id(client, actors, fine_id)
    assert client.get("/api/v1/review/cases", headers=actors.camera).status_code == 403
    assert client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=actors.camera).status_code == 403
    assert client.get(f"/api/v1/evidence/{evidence_id}", headers=actors.camera).status_code == 403


def test_people_cannot_post_violations(client, actors):
    response = client.post("/api/v1/intake/violations", data={"record": "{}"}, headers=actors.reviewer)
    assert response.status_code == 403


def test_reviewer_cannot_admin(client, actors):
    assert client.get("/api/v1/admin/users", headers=actors.reviewer).status_code == 403
    assert client.post("/api/v1/admin/export", headers=actors.reviewer).status_code == 403
    assert (
        client.put(
            "/api/v1/admin/policy/littering",
            headers=actors.reviewer,
            json={"enabled": True, "threshold": 0.1},
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/admin/users",
            headers=actors.reviewer,
            json={"username": "eve", "password": "eve-pass-1", "role": "admin"},
        ).status_code
        == 403
    )
    assert client.get("/api/v1/admin/users", headers=actors.admin).status_code == 200


def test_anonymous_cannot_see_evidence_reviewer_can(client, actors, new_case, snapshot_bytes):
    fine_id = new_case()
    evidence_id = _evidence_id(client, actors, fine_id)
    assert client.get(f"/api/v1/evidence/{evidence_id}").status_code == 401
    response = client.get(f"/api/v1/evidence/{evidence_id}", headers=actors.reviewer)
    assert response.status_code == 200 and response.content == snapshot_bytes
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd", "1/../2"]
)
def test_evidence_paths_cannot_traverse(client, actors, path):
    response = client.get(f"/api/v1/evidence/{path}", headers=actors.reviewer)
    assert response.status_code in (404, 422)
    assert b"root:" not in response.content


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "0" * 31 + "/", "A" * 32, ""])
def test_store_refuses_non_generated_keys(tmp_path, key):
    store = LocalEvidenceStore(tmp_path)
    with pytest.raises(ValueError):
        store.path_for(key)


def test_stored_file_tampering_is_detected_on_read(client, actors, new_case, app, session):
    from api.models import Evidence

    fine_id = new_case()
    evidence_id = _evidence_id(client, actors, fine_id)
    evidence = session.get(Evidence, evidence_id)
    app.state.evidence_store.path_for(evidence.storage_key).write_bytes(b"edited")
    assert client.get(f"/api/v1/evidence/{evidence_id}", headers=actors.reviewer).status_code == 409


def test_default_secret_refused_outside_local(tmp_path):
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", data_dir=tmp_path)
    assert (
        Settings(environment="production", data_dir=tmp_path, secret_key="x" * 32).environment == "production"
    )
