"""Signed evidence: a good signature verifies, a tampered file or record is caught, keys behave as documented.

Unknown and revoked keys are the service's checks (tests/api); here: everything the camera side and an
offline verifier can tell from the record, the files and one public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from autofine.contract import ViolationRecord
from autofine.errors import UserError
from autofine.signing import (
    Ed25519Signer,
    Signer,
    evidence_hash_mismatches,
    key_id,
    key_id_from_pem,
    load_private_key,
    public_key_pem,
    sign,
    verify,
    write_keypair,
)
from tests.helpers import FAKE_MODEL, T0
from vision.confirm import Incident, Vote
from vision.detections import Detections
from vision.evidence import EvidenceRecorder
from vision.frame import Frame
from vision.scene import CameraConfig, Scene

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_keypair("cam", tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def signed(keys: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[ViolationRecord, dict]:
    """A record built by the real EvidenceRecorder with `signing_key` set: (record, {name: path})."""
    private_path, _ = keys
    config = CameraConfig(camera_id="cam", signing_key=private_path)
    recorder = EvidenceRecorder(
        config, Scene(config.zones), FAKE_MODEL, tmp_path_factory.mktemp("ev"), fps=5.0
    )
    frames = []
    for i in range(12):
        image = np.full((240, 320, 3), 90, dtype=np.uint8)
        x = 40 + 6 * i
        cv2.rectangle(image, (x, 100), (x + 30, 200), (20, 20, 20), -1)
        dets = Detections.from_lists([[x, 100, x + 30, 200]], [0.9], ["person"], tracker_id=[1])
        frame = Frame("cam", i, T0 + timedelta(seconds=i / 5), image)
        frames.append((frame, dets))
        recorder.add_frame(frame, dets)
    votes = tuple(
        Vote(f.index, f.timestamp, tuple(float(v) for v in d.xyxy[0]), 0.9, 1.0) for f, d in frames[5:9]
    )
    recorder.add_incident(
        Incident(
            "c" * 24,
            "cam",
            "jaywalking",
            1,
            votes[0].timestamp,
            votes[-1].timestamp,
            8,
            votes,
            ("road",),
            0.9,
        )
    )
    ((record, files),) = recorder.flush()
    return record, files


def _file_bytes(files: dict[str, Path]) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in files.items()}


def test_recorder_signs_after_hashing_and_signature_verifies(keys, signed) -> None:  # noqa: ANN001
    _, public_path = keys
    record, files = signed
    assert record.signature and record.signing_key_id == key_id_from_pem(public_path.read_bytes())
    assert len(record.evidence) == 2  # snapshot + clip, both covered by the signature
    assert verify(record, public_path.read_bytes())
    assert evidence_hash_mismatches(record, _file_bytes(files)) == []
    # the signature survives the trip through JSON (what the outbox stores and the service receives)
    assert verify(ViolationRecord.model_validate_json(record.model_dump_json()), public_path.read_text())


def test_tampered_file_is_caught_by_the_hash_check(signed) -> None:  # noqa: ANN001
    record, files = signed
    data = _file_bytes(files)
    snapshot = next(e.name for e in record.evidence if e.kind == "snapshot")
    clip = next(e.name for e in record.evidence if e.kind == "clip")
    tampered = dict(data)
    flipped = bytearray(data[snapshot])
    flipped[len(flipped) // 2] ^= 0x01  # one bit in the middle of the JPEG
    tampered[snapshot] = bytes(flipped)
    assert evidence_hash_mismatches(record, tampered) == [snapshot]
    assert evidence_hash_mismatches(record, {snapshot: data[snapshot]}) == [clip]  # a missing file counts
    assert evidence_hash_mismatches(record, {**data, clip: data[clip] + b"\0"}) == [clip]


@pytest.mark.parametrize(
    "change",
    [
        {"confidence": 0.1},
        {"track_id": 2},
        {"incident_id": "d" * 24},
        {"zones": []},
    ],
)
def test_tampered_record_fails_verification(keys, signed, change) -> None:  # noqa: ANN001
    _, public_path = keys
    record, _ = signed
    assert verify(record, public_path.read_bytes())
    assert not verify(record.model_copy(update=change), public_path.read_bytes())


def test_swapping_an_evidence_hash_fails_verification(keys, signed) -> None:  # noqa: ANN001
    """Replacing a file *and* its hash in the record is still caught: the hash is under the signature."""
    _, public_path = keys
    record, _ = signed
    evidence = [record.evidence[0].model_copy(update={"sha256": "f" * 64}), *record.evidence[1:]]
    assert not verify(record.model_copy(update={"evidence": evidence}), public_path.read_bytes())


def test_other_key_unsigned_and_garbled_signatures_fail(keys, signed) -> None:  # noqa: ANN001
    _, public_path = keys
    record, _ = signed
    other = Ed25519PrivateKey.generate()
    other_pem = public_key_pem(other.public_key())
    assert not verify(record, other_pem)  # another camera's key (key id differs)
    # a signature by another key that claims this camera's key id
    forged = (
        Ed25519Signer.from_key(other)
        .sign(record)
        .model_copy(update={"signing_key_id": record.signing_key_id})
    )
    assert not verify(forged, public_path.read_bytes())
    assert not verify(
        record.model_copy(update={"signature": None, "signing_key_id": None}), public_path.read_bytes()
    )
    assert not verify(record.model_copy(update={"signature": "not base64!"}), public_path.read_bytes())
    assert not verify(record, b"not a pem")


def test_key_id_is_sha256_of_raw_public_key(keys) -> None:  # noqa: ANN001
    private_path, public_path = keys
    key = load_private_key(private_path)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert len(raw) == 32
    expected = hashlib.sha256(raw).hexdigest()[:16]
    assert key_id(key.public_key()) == expected == key_id_from_pem(public_path.read_bytes())
    assert Ed25519Signer(private_path).key_id == expected


def test_signing_is_deterministic_and_signer_is_pluggable(signed) -> None:  # noqa: ANN001
    record, _ = signed
    key = Ed25519PrivateKey.generate()
    a = sign(record, Ed25519Signer.from_key(key))
    b = sign(record.model_copy(update={"signature": None}), Ed25519Signer.from_key(key))
    assert a.signature == b.signature  # Ed25519 is deterministic: a replayed incident signs identically
    assert len(base64.b64decode(a.signature or "")) == 64

    class HsmLike(Signer):  # what a national-PKI / HSM signer has to provide
        @property
        def key_id(self) -> str:
            return key_id(key.public_key())

        def sign_bytes(self, data: bytes) -> bytes:
            return key.sign(data)

    c = HsmLike().sign(record)
    assert c.signature == a.signature and verify(c, public_key_pem(key.public_key()))


def test_key_files_private_mode_and_no_silent_overwrite(tmp_path: Path) -> None:
    private_path, public_path = write_keypair("cam-7", tmp_path)
    assert (private_path.name, public_path.name) == ("cam-7.key.pem", "cam-7.pub.pem")
    assert private_path.stat().st_mode & 0o777 == 0o600
    first = private_path.read_bytes()
    with pytest.raises(UserError, match="already exists"):
        write_keypair("cam-7", tmp_path)
    assert private_path.read_bytes() == first
    write_keypair("cam-7", tmp_path, overwrite=True)
    assert private_path.read_bytes() != first


def test_missing_or_wrong_key_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        Ed25519Signer(tmp_path / "nope.pem")
    (tmp_path / "bad.pem").write_text("hello")
    with pytest.raises(UserError, match="not a readable PEM"):
        Ed25519Signer(tmp_path / "bad.pem")
    with pytest.raises(UserError, match="does not exist"):
        EvidenceRecorder(
            CameraConfig(signing_key=tmp_path / "nope.pem"),
            Scene(CameraConfig().zones),
            FAKE_MODEL,
            tmp_path,
            fps=5,
        )


def _autofine(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOFINE_DATA_DIR": "/nonexistent-should-not-be-used"}
    return subprocess.run(
        [sys.executable, "-c", "from autofine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )


def test_cli_generate_and_verify(tmp_path: Path, signed) -> None:  # noqa: ANN001
    out = _autofine("keys", "generate", "cam-9", "--out", str(tmp_path / "k"))
    assert out.returncode == 0, out.stderr
    private_path, public_path = tmp_path / "k" / "cam-9.key.pem", tmp_path / "k" / "cam-9.pub.pem"
    assert Ed25519Signer(private_path).key_id in out.stdout
    assert _autofine("keys", "id", str(public_path)).stdout.strip() == key_id_from_pem(
        public_path.read_bytes()
    )
    again = _autofine("keys", "generate", "cam-9", "--out", str(tmp_path / "k"))
    assert again.returncode == 2 and "already exists" in again.stderr

    record, files = signed
    mine = Ed25519Signer(private_path).sign(record)
    (tmp_path / "record.json").write_text(mine.model_dump_json())
    files_dir = tmp_path / "files"
    files_dir.mkdir()
    for name, path in files.items():
        (files_dir / name).write_bytes(path.read_bytes())
    ok = _autofine(
        "keys",
        "verify",
        str(tmp_path / "record.json"),
        "--public-key",
        str(public_path),
        "--files",
        str(files_dir),
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "signature: valid" in ok.stdout and ok.stdout.count("sha256 ok") == 2
    snapshot = next(e.name for e in record.evidence if e.kind == "snapshot")
    (files_dir / snapshot).write_bytes((files_dir / snapshot).read_bytes()[:-1] + b"\x00")
    bad = _autofine(
        "keys",
        "verify",
        str(tmp_path / "record.json"),
        "--public-key",
        str(public_path),
        "--files",
        str(files_dir),
    )
    assert bad.returncode == 1 and f"{snapshot}: MISMATCH" in bad.stdout
    payload = json.loads((tmp_path / "record.json").read_text())
    payload["confidence"] = 0.01
    (tmp_path / "record.json").write_text(json.dumps(payload))
    forged = _autofine("keys", "verify", str(tmp_path / "record.json"), "--public-key", str(public_path))
    assert forged.returncode == 1 and "signature: INVALID" in forged.stdout
