from __future__ import annotations

import hashlib
import threading

import httpx
from sqlmodel import func, select

from api.models import AuditEntry, Evidence, Fine, Violation
from tests.api.conftest import make_record, post


def _counts(session) -> tuple[int, int, int]:
    return (
        session.exec(select(func.count()).select_from(Violation)).one(),
        session.exec(select(func.count()).select_from(Fine)).one(),
        session.exec(select(func.count()).select_from(Evidence)).one(),
    )


def test_intake_creates_violation_fine_and_stores_evidence(client, actors, session, snapshot_bytes, app):
    files = {"snapshot.jpg": snapshot_bytes}
    response = post(client, actors.camera, make_record(files=files), files)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["duplicate"] is False and body["status"] == "pending_review"
    fine = session.get(Fine, body["fine_id"])
    assert fine.amount_kzt == 43_250 and fine.amount_mrp == 10 and fine.mrp_year == 2026
    evidence = session.exec(select(Evidence)).one()
    stored = app.state.evidence_store.path_for(evidence.storage_key).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == evidence.sha256 == hashlib.sha256(snapshot_bytes).hexdigest()
    assert [e.action for e in session.exec(select(AuditEntry)).all()][-1] == "intake"


def test_same_idempotency_key_twice_gives_one_violation(client, actors, session, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    record = make_record(files=files, incident_id="incident-42")
    first = post(client, actors.camera, record, files)
    second = post(client, actors.camera, record, files)
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["fine_id"] == first.json()["fine_id"]
    assert _counts(session) == (1, 1, 1)


def test_concurrent_duplicates_race_to_one_violation(live_server, actors, session, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    record = make_record(files=files, incident_id="raced")
    barrier = threading.Barrier(4)
    results: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=live_server, timeout=60) as http:
            barrier.wait()
            results.append(post(http, actors.camera, record, files))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 200, 200, 201], [r.text for r in results]
    assert len({r.json()["fine_id"] for r in results}) == 1
    session.expire_all()
    assert _counts(session) == (1, 1, 1)


def test_sha256_mismatch_is_rejected_and_nothing_stored(client, actors, session, snapshot_bytes, app):
    files = {"snapshot.jpg": snapshot_bytes}
    record = make_record(files=files)
    tampered = {"snapshot.jpg": snapshot_bytes[:-1] + bytes([snapshot_bytes[-1] ^ 1])}
    response = post(client, actors.camera, record, tampered)
    assert response.status_code == 422
    assert "sha256 mismatch" in response.json()["detail"]
    assert _counts(session) == (0, 0, 0)
    assert not any(p.is_file() for p in app.state.evidence_store.root.rglob("*"))


def test_missing_and_undeclared_files_are_rejected(client, actors, session, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    record = make_record(files=files)
    missing = post(client, actors.camera, record, {})
    assert missing.status_code == 422 and "missing" in missing.json()["detail"]
    extra = post(client, actors.camera, record, files | {"other.jpg": b"x"})
    assert extra.status_code == 422 and "not declared" in extra.json()["detail"]
    assert _counts(session) == (0, 0, 0)


def test_record_for_another_camera_is_forbidden(client, actors, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    response = post(client, actors.camera, make_record(files=files, camera_id="cam-2"), files)
    assert response.status_code == 403


def test_bad_record_and_missing_token(client, actors, snapshot_bytes):
    response = client.post("/api/v1/intake/violations", data={"record": "{not json"}, headers=actors.camera)
    assert response.status_code == 422 and "invalid record" in response.json()["detail"]
    response = client.post("/api/v1/intake/violations", data={"record": "{}"})
    assert response.status_code == 401
    response = client.post(
        "/api/v1/intake/violations", data={"record": "{}"}, headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401


def test_evidence_name_cannot_carry_a_path(client, actors, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    record = make_record(files=files)
    record["evidence"][0]["name"] = "../../etc/passwd"
    response = post(client, actors.camera, record, {"../../etc/passwd": snapshot_bytes})
    assert response.status_code == 422
