"""Appeals: under_appeal + legal hold; upheld, cancelled, amended; ERAP cancellation after export."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from api.db import utcnow
from api.erap import verify_document
from api.models import Appeal, AuditEntry, Evidence, Fine
from api.retention import run_retention


def _issued(client, actors, new_case, *, export: bool) -> int:
    fine_id = new_case()
    assert client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=actors.reviewer).status_code == 200
    decided = client.post(
        f"/api/v1/review/cases/{fine_id}/decision", json={"action": "confirm"}, headers=actors.reviewer
    )
    assert decided.status_code == 200, decided.text
    if export:
        assert client.post("/api/v1/admin/export", headers=actors.admin).json()["exported"] == [fine_id]
    return fine_id


def _appeal(client, actors, fine_id: int):
    return client.post(
        f"/api/v1/fines/{fine_id}/appeals",
        json={"grounds": "I was waiting for a bus, the bag is not mine"},
        headers=actors.reviewer,
    )


def _fine(client, actors, fine_id: int) -> dict:
    return client.get(f"/api/v1/fines/{fine_id}", headers=actors.admin).json()["fine"]


def test_appeal_cancelled_after_export_sends_a_cancellation_document(client, actors, new_case, session):
    fine_id = _issued(client, actors, new_case, export=True)
    filed = _appeal(client, actors, fine_id)
    assert filed.status_code == 201, filed.text
    fine = _fine(client, actors, fine_id)
    assert (fine["status"], fine["legal_hold"]) == ("under_appeal", True)
    # the case cannot be exported or re-opened for review meanwhile
    assert client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=actors.reviewer).status_code == 409
    # deciding an appeal is an admin's act
    body = {"outcome": "cancelled", "reason": "the bag belonged to another person (second camera)"}
    denied = client.post(f"/api/v1/fines/{fine_id}/appeals/decision", json=body, headers=actors.reviewer)
    assert denied.status_code == 403
    decided = client.post(f"/api/v1/fines/{fine_id}/appeals/decision", json=body, headers=actors.admin)
    assert decided.status_code == 200, decided.text
    appeal = decided.json()
    assert appeal["outcome"] == "cancelled"
    assert appeal["erap_document"] == f"documents/fine-{fine_id}-cancellation-{appeal['id']}.json"
    assert _fine(client, actors, fine_id)["status"] == "cancelled"

    root = client.app.state.settings.resolved_export_dir
    document = json.loads((root / appeal["erap_document"]).read_text())
    assert verify_document(document)
    cancellation = document["cancellation"]
    assert cancellation["case_number"] == fine_id
    assert cancellation["appeal"]["reason"] == body["reason"]
    assert cancellation["original_amount_kzt"] == 43_250 and cancellation["new_amount_kzt"] == 0
    document["cancellation"]["new_amount_kzt"] = 43_250
    assert not verify_document(document)  # tampering with the cancellation is detectable

    actions = [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()]
    assert actions[-4:] == ["appeal.file", "legal_hold.set", "export.cancellation", "appeal.cancelled"]


def test_appeal_before_export_cancels_without_a_document(client, actors, new_case):
    fine_id = _issued(client, actors, new_case, export=False)
    assert _appeal(client, actors, fine_id).status_code == 201
    decided = client.post(
        f"/api/v1/fines/{fine_id}/appeals/decision",
        json={"outcome": "cancelled", "reason": "not the same person"},
        headers=actors.admin,
    )
    assert decided.json()["erap_document"] is None
    # a cancelled case is never exported
    assert client.post("/api/v1/admin/export", headers=actors.admin).json()["exported"] == []


def test_upheld_and_amended_return_the_case_to_its_state(client, actors, new_case, session):
    upheld = _issued(client, actors, new_case, export=True)
    _appeal(client, actors, upheld)
    body = {"outcome": "upheld", "reason": "the clip shows the person dropping the bag"}
    result = client.post(f"/api/v1/fines/{upheld}/appeals/decision", json=body, headers=actors.admin).json()
    assert (result["outcome"], result["erap_document"]) == ("upheld", None)
    assert _fine(client, actors, upheld)["status"] == "exported"

    amended = _issued(client, actors, new_case, export=True)
    _appeal(client, actors, amended)
    bad = client.post(
        f"/api/v1/fines/{amended}/appeals/decision",
        json={"outcome": "amended", "reason": "first offence"},
        headers=actors.admin,
    )
    assert bad.status_code == 422  # an amendment needs the new amount
    body = {"outcome": "amended", "reason": "first offence, warning level", "new_amount_kzt": 4_325}
    result = client.post(f"/api/v1/fines/{amended}/appeals/decision", json=body, headers=actors.admin).json()
    assert result["erap_document"].endswith(f"fine-{amended}-amendment-{result['id']}.json")
    fine = _fine(client, actors, amended)
    assert (fine["status"], fine["amount_kzt"]) == ("exported", 4_325)
    assert len(session.exec(select(Appeal)).all()) == 2


def test_only_issued_fines_can_be_appealed_and_only_once_at_a_time(client, actors, new_case):
    pending = new_case()
    assert _appeal(client, actors, pending).status_code == 409
    fine_id = _issued(client, actors, new_case, export=False)
    assert _appeal(client, actors, fine_id).status_code == 201
    assert _appeal(client, actors, fine_id).status_code == 409
    empty = client.post(f"/api/v1/fines/{fine_id}/appeals", json={"grounds": ""}, headers=actors.reviewer)
    assert empty.status_code == 422


def test_legal_hold_beats_retention(client, actors, new_case, session):
    fine_id = _issued(client, actors, new_case, export=True)
    _appeal(client, actors, fine_id)
    client.post(
        f"/api/v1/fines/{fine_id}/appeals/decision",
        json={"outcome": "upheld", "reason": "evidence is clear"},
        headers=actors.admin,
    )
    fine = session.get(Fine, fine_id)
    session.refresh(fine)
    assert (fine.status, fine.legal_hold) == ("exported", True)  # held after the decision (court period)
    store = client.app.state.evidence_store
    far_future = utcnow() + timedelta(days=5000)  # every retention period long past

    summary = run_retention(session, store=store, rejected_days=1, evidence_days=1, now=far_future)
    assert summary.deleted_evidence == []
    evidence = session.exec(select(Evidence).where(Evidence.violation_id == fine.violation_id)).all()
    assert len(evidence) == 1 and evidence[0].deleted_at is None
    assert store.exists(evidence[0].storage_key)  # the file is still there

    # releasing the hold (audited) lets retention do its job
    denied = client.post(
        f"/api/v1/fines/{fine_id}/legal-hold/release", json={"reason": "x"}, headers=actors.reviewer
    )
    assert denied.status_code == 403
    released = client.post(
        f"/api/v1/fines/{fine_id}/legal-hold/release",
        json={"reason": "appeal period over"},
        headers=actors.admin,
    )
    assert released.json() == {"fine_id": fine_id, "legal_hold": False}
    summary = run_retention(session, store=store, rejected_days=1, evidence_days=1, now=far_future)
    assert summary.deleted_evidence == [evidence[0].id]
    assert not store.exists(evidence[0].storage_key)


def test_appeal_cli(client, actors, new_case, settings, tmp_path):
    from typer.testing import CliRunner

    from autofine.cli.admin import app as admin_app

    fine_id = _issued(client, actors, new_case, export=True)
    db = settings.resolved_database_url
    runner = CliRunner()
    env = {"AUTOFINE_DATA_DIR": str(settings.data_dir)}
    filed = runner.invoke(admin_app, ["appeal", str(fine_id), "--grounds", "not me", "--db", db], env=env)
    assert filed.exit_code == 0, filed.output
    decided = runner.invoke(
        admin_app,
        ["appeal-decide", str(fine_id), "--outcome", "cancelled", "--reason", "wrong person", "--db", db],
        env=env,
    )
    assert decided.exit_code == 0, decided.output
    assert f"fine-{fine_id}-cancellation-" in decided.output
    assert (settings.resolved_export_dir / decided.output.split("ERAP document ")[1].strip()).is_file()
