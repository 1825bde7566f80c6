"""Export of issued fines to ERAP (the unified register of administrative offences) through an adapter.

`FileDropAdapter` writes one signed JSON document per fine (`fine-<id>.json`) plus one manifest per batch.
Export is idempotent: the `Export` row (UNIQUE per fine) is committed with the status change, and a fine
re-exported after a crash rewrites the same file name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import or_
from sqlmodel import Session, col, select

from api import audit, labels
from api.db import utcnow
from api.models import (
    EXPORTABLE,
    CameraKey,
    CaseStatus,
    Decision,
    Evidence,
    Export,
    Fine,
    Subject,
    User,
    Violation,
)


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class Signer:
    """Ed25519 signer for export documents; a national-PKI signer can replace it behind the same methods."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]
        self.public_key_b64 = base64.b64encode(raw).decode()

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """Load the key, creating it (mode 0600) on first use."""
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key)

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self._key.sign(payload)).decode()


def verify_document(document: dict[str, Any]) -> bool:
    """Check a file-drop document's signature against the public key it names."""
    sig = document["signature"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(sig["public_key"]))
    body = next(v for k, v in document.items() if k != "signature")  # "fine", "cancellation", "amendment"
    try:
        public.verify(base64.b64decode(sig["value"]), canonical(body))
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class Receipt:
    document_name: str
    sha256: str


class ErapAdapter(Protocol):
    name: str

    def send(self, *, fine_id: int, payload: dict[str, Any]) -> Receipt: ...

    def finish_batch(self, *, batch_id: str, receipts: dict[int, Receipt]) -> str | None: ...

    def send_correction(self, *, fine_id: int, kind: str, ref: int, payload: dict[str, Any]) -> Receipt:
        """A signed cancellation/amendment of an already exported fine (`kind`), `ref` = the appeal id."""
        ...


class FileDropAdapter:
    name = "file-drop"

    def __init__(self, root: Path, signer: Signer) -> None:
        self.root = Path(root)
        self.signer = signer

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def send(self, *, fine_id: int, payload: dict[str, Any]) -> Receipt:
        document = {
            "fine": payload,
            "signature": {
                "alg": "Ed25519",
                "key_id": self.signer.key_id,
                "public_key": self.signer.public_key_b64,
                "signed": "canonical JSON of `fine` (sorted keys, no whitespace, UTF-8)",
                "value": self.signer.sign(canonical(payload)),
            },
        }
        data = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode()
        name = f"fine-{fine_id}.json"
        self._write(self.root / "documents" / name, data)
        return Receipt(document_name=f"documents/{name}", sha256=hashlib.sha256(data).hexdigest())

    def send_correction(self, *, fine_id: int, kind: str, ref: int, payload: dict[str, Any]) -> Receipt:
        document = {
            kind: payload,
            "signature": {
                "alg": "Ed25519",
                "key_id": self.signer.key_id,
                "public_key": self.signer.public_key_b64,
                "signed": f"canonical JSON of `{kind}` (sorted keys, no whitespace, UTF-8)",
                "value": self.signer.sign(canonical(payload)),
            },
        }
        data = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode()
        name = f"fine-{fine_id}-{kind}-{ref}.json"  # one per appeal: a re-run rewrites the same file
        self._write(self.root / "documents" / name, data)
        return Receipt(document_name=f"documents/{name}", sha256=hashlib.sha256(data).hexdigest())

    def finish_batch(self, *, batch_id: str, receipts: dict[int, Receipt]) -> str | None:
        if not receipts:
            return None
        manifest = {
            "batch_id": batch_id,
            "created_at": utcnow().isoformat(),
            "documents": [
                {"fine_id": fid, "document": r.document_name, "sha256": r.sha256}
                for fid, r in sorted(receipts.items())
            ],
        }
        manifest["signature"] = {
            "alg": "Ed25519",
            "key_id": self.signer.key_id,
            "value": self.signer.sign(canonical(manifest)),
        }
        name = f"manifests/manifest-{batch_id}.json"
        self._write(self.root / name, json.dumps(manifest, indent=2, sort_keys=True).encode())
        return name


def build_payload(
    session: Session, fine: Fine, violation: Violation, *, exported_at: datetime
) -> dict[str, Any]:
    decisions = session.exec(select(Decision).where(Decision.fine_id == fine.id).order_by(Decision.id)).all()
    users = (
        {u.id: u.username for u in session.exec(select(User)).all()}
        if decisions or fine.decided_by_id
        else {}
    )
    subject = session.get(Subject, fine.subject_id) if fine.subject_id else None
    evidence = session.exec(
        select(Evidence).where(Evidence.violation_id == violation.id).order_by(Evidence.id)
    ).all()
    record = json.loads(violation.record_json)
    camera_key = (
        session.exec(select(CameraKey).where(CameraKey.key_id == record.get("signing_key_id"))).first()
        if record.get("signing_key_id")
        else None
    )
    return {
        "schema": "autofine.erap.v1",
        "case_number": fine.id,
        "violation_type": fine.violation_type,
        "article": fine.article,
        "amount_kzt": fine.amount_kzt,
        "amount_mrp": fine.amount_mrp,
        "mrp_year": fine.mrp_year,
        "schedule_version": fine.schedule_version,
        "repeat_offence": fine.repeat_offence,
        "status_before_export": str(fine.status),
        "offence_at": violation.onset.isoformat(),
        "camera_id": violation.camera_id,
        "location": {
            "address": violation.location_address,
            "lat": violation.latitude,
            "lon": violation.longitude,
        },
        "subject": (
            {"national_id": subject.national_id, "full_name": subject.full_name}
            if subject is not None
            else None
        ),
        "evidence": [
            {"name": e.name, "sha256": e.sha256, "media_type": e.media_type, "size": e.size} for e in evidence
        ],
        "record_sha256": hashlib.sha256(violation.record_json.encode()).hexdigest(),
        "document_kind": "fine" if subject is not None else "notice_of_violation",
        "camera_signature": {
            "value": record.get("signature"),
            "key_id": record.get("signing_key_id"),
            "alg": "Ed25519",
            "signed": "autofine.contract.ViolationRecord.canonical_bytes() of `camera_record`",
            "public_key_pem": camera_key.public_key_pem if camera_key is not None else None,
        },
        "camera_record": record,
        "decisions": [
            {
                "action": d.action,
                "reviewer": users.get(d.reviewer_id),
                "reason_code": d.reason_code,
                "reason_text": d.reason_text,
                "decided_at": d.decided_at.isoformat(),
            }
            for d in decisions
        ],
        "ai_provenance": labels.provenance(
            fine, violation, confirmed_by=users.get(fine.decided_by_id)
        ).model_dump(mode="json"),
        "notice": labels.notice(fine, violation).model_dump(),
        "exported_at": exported_at.isoformat(),
    }


@dataclass(frozen=True)
class ExportSummary:
    batch_id: str
    exported: list[int]
    skipped: list[int]
    manifest: str | None


def export_fines(
    session: Session, *, adapter: ErapAdapter, actor: str, limit: int = 1000, now: datetime | None = None
) -> ExportSummary:
    """Export every issued fine not yet exported (and not open in a reviewer's hands)."""
    now = now or utcnow()
    batch_id = now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    candidates = session.exec(
        select(Fine)
        .where(
            col(Fine.status).in_([str(s) for s in EXPORTABLE]),
            or_(col(Fine.claimed_by_id).is_(None), col(Fine.claim_expires_at) <= now),
        )
        .order_by(Fine.id)
        .limit(limit)
    ).all()
    receipts: dict[int, Receipt] = {}
    skipped: list[int] = []
    from api.cases import _conditional_update  # shared guarded-update helper

    for fine in candidates:
        if session.exec(select(Export).where(Export.fine_id == fine.id)).first() is not None:
            skipped.append(fine.id)
            continue
        violation = session.get(Violation, fine.violation_id)
        payload = build_payload(session, fine, violation, exported_at=now)
        receipt = adapter.send(fine_id=fine.id, payload=payload)
        ok = _conditional_update(
            session,
            fine.id,
            [Fine.version == fine.version, col(Fine.status).in_([str(s) for s in EXPORTABLE])],
            {"status": str(CaseStatus.exported), "exported_at": now, "updated_at": now},
        )
        if not ok:
            session.rollback()
            skipped.append(fine.id)
            continue
        session.add(
            Export(
                fine_id=fine.id,
                adapter=adapter.name,
                batch_id=batch_id,
                document_name=receipt.document_name,
                sha256=receipt.sha256,
                exported_at=now,
            )
        )
        audit.record(
            session=session,
            actor=actor,
            action="export",
            target=f"fine:{fine.id}",
            data={
                "adapter": adapter.name,
                "batch_id": batch_id,
                "document": receipt.document_name,
                "sha256": receipt.sha256,
            },
        )
        session.commit()
        receipts[fine.id] = receipt
    manifest = adapter.finish_batch(batch_id=batch_id, receipts=receipts)
    if manifest:
        audit.record(
            session=session,
            actor=actor,
            action="export.batch",
            target=f"batch:{batch_id}",
            data={"manifest": manifest, "fines": sorted(receipts)},
        )
        session.commit()
    return ExportSummary(batch_id=batch_id, exported=sorted(receipts), skipped=skipped, manifest=manifest)
