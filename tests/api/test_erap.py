from __future__ import annotations

import hashlib
import json

from sqlmodel import select

from api.erap import verify_document
from api.models import Export, Fine


def _confirm(client, headers, fine_id):
    client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=headers)
    assert (
        client.post(
            f"/api/v1/review/cases/{fine_id}/decision", headers=headers, json={"action": "confirm"}
        ).status_code
        == 200
    )


def test_export_writes_signed_documents_once(client, actors, new_case, settings, session):
    confirmed = new_case()
    _confirm(client, actors.reviewer, confirmed)
    pending = new_case()
    first = client.post("/api/v1/admin/export", headers=actors.admin).json()
    assert first["exported"] == [confirmed] and first["manifest"]
    root = settings.resolved_export_dir
    document_bytes = (root / "documents" / f"fine-{confirmed}.json").read_bytes()
    document = json.loads(document_bytes)
    assert verify_document(document)
    fine_doc = document["fine"]
    assert fine_doc["amount_kzt"] == 43_250 and fine_doc["ai_provenance"]["generated_by_ai"] is True
    assert (
        fine_doc["ai_provenance"]["confirmed_by"] == "alice"
        and fine_doc["decisions"][0]["reviewer"] == "alice"
    )
    assert "artificial-intelligence" in fine_doc["notice"]["en"]
    manifest = json.loads((root / first["manifest"]).read_bytes())
    assert manifest["documents"] == [
        {
            "fine_id": confirmed,
            "document": f"documents/fine-{confirmed}.json",
            "sha256": hashlib.sha256(document_bytes).hexdigest(),
        }
    ]
    # tampering with the document breaks its signature
    document["fine"]["amount_kzt"] = 1
    assert not verify_document(document)

    second = client.post("/api/v1/admin/export", headers=actors.admin).json()
    assert second["exported"] == [] and second["manifest"] is None
    assert len(session.exec(select(Export)).all()) == 1
    session.expire_all()
    assert session.get(Fine, confirmed).status == "exported"
    assert session.get(Fine, pending).status == "pending_review"
    # exported fines are final here: no more overrides
    assert client.post(f"/api/v1/review/cases/{confirmed}/claim", headers=actors.reviewer).status_code == 409
    assert client.get("/api/v1/admin/audit/verify", headers=actors.admin).json()["ok"] is True
