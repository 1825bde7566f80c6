"""Signing violation records at the camera and verifying them at the service (Ed25519, `cryptography`).

The camera signs `ViolationRecord.canonical_bytes()` — the whole record, including every evidence file's
sha256, without the signature fields — and puts the base64 signature and its key id into the record. Anyone
holding the camera's public key can then prove the record (and, through the hashes, each file) is what that
camera produced. `Signer` is the seam for another signer (a national-PKI token or HSM) later: it only has to
sign bytes and name its key.

Key id = first 16 hex characters of sha256 over the raw 32-byte Ed25519 public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from autofine.contract import ViolationRecord
from autofine.errors import UserError

SIGNATURE_ALGORITHM = "ed25519"
KEY_ID_HEX_CHARS = 16


class Signer(ABC):
    """Signs bytes with one key. Implementations: `Ed25519Signer`; a PKI/HSM signer can plug in later."""

    algorithm: str = SIGNATURE_ALGORITHM

    @property
    @abstractmethod
    def key_id(self) -> str:
        """Stable id of the verifying key, put into `ViolationRecord.signing_key_id`."""

    @abstractmethod
    def sign_bytes(self, data: bytes) -> bytes:
        """The raw signature over `data`."""

    def sign(self, record: ViolationRecord) -> ViolationRecord:
        """A copy of `record` with `signature` and `signing_key_id` set. Sign only after every hash is in."""
        signature = self.sign_bytes(record.canonical_bytes())
        return record.model_copy(
            update={"signature": base64.b64encode(signature).decode("ascii"), "signing_key_id": self.key_id}
        )


class Ed25519Signer(Signer):
    """Signs with an Ed25519 private key in a PKCS#8 PEM file (as written by `autofine keys generate`)."""

    def __init__(self, private_key_path: Path | str, password: bytes | None = None) -> None:
        self.private_key_path = Path(private_key_path)
        self._key = load_private_key(self.private_key_path, password=password)
        self._key_id = key_id(self._key.public_key())

    @classmethod
    def from_key(cls, key: Ed25519PrivateKey) -> Ed25519Signer:
        """A signer over an in-memory key (tests, or a key that came from somewhere other than a file)."""
        signer = cls.__new__(cls)
        signer.private_key_path = Path("<memory>")
        signer._key = key
        signer._key_id = key_id(key.public_key())
        return signer

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def public_key_pem(self) -> bytes:
        return public_key_pem(self._key.public_key())

    def sign_bytes(self, data: bytes) -> bytes:
        return self._key.sign(data)


def sign(record: ViolationRecord, signer: Signer) -> ViolationRecord:
    """A copy of `record` signed by `signer` (signature + key id filled in)."""
    return signer.sign(record)


def verify(record: ViolationRecord, public_key_pem: bytes | str) -> bool:
    """True when `record` carries a valid signature by this public key and names this key's id.

    Checks the record only. Whether each uploaded file matches its sha256 in the record is
    `evidence_hash_mismatches`; whether the key is registered and not revoked is the service's business.
    """
    if not record.signature or not record.signing_key_id:
        return False
    try:
        public_key = load_public_key_pem(public_key_pem)
    except UserError:
        return False
    if record.signing_key_id != key_id(public_key):
        return False
    try:
        signature = base64.b64decode(record.signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(signature, record.canonical_bytes())
    except InvalidSignature:
        return False
    return True


def evidence_hash_mismatches(record: ViolationRecord, files: dict[str, bytes]) -> list[str]:
    """Names of evidence files whose bytes are missing or differ (sha256 or size) from the record's entry.

    `files` maps `EvidenceFile.name` to the bytes received or stored. An empty list means every listed file
    is present and unchanged; files not listed in the record are ignored (the caller decides about extras).
    """
    bad: list[str] = []
    for entry in record.evidence:
        data = files.get(entry.name)
        if data is None or len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
            bad.append(entry.name)
    return bad


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex characters of sha256 over the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX_CHARS]


def key_id_from_pem(public_key_pem_data: bytes | str) -> str:
    """Key id of a public key given as PEM (what the service stores in its key registry)."""
    return key_id(load_public_key_pem(public_key_pem_data))


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return public_key.public_bytes(serialization.Encoding.PEM, spki)


def private_key_pem(private_key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    pkcs8 = serialization.PrivateFormat.PKCS8
    return private_key.private_bytes(serialization.Encoding.PEM, pkcs8, encryption)


def load_public_key_pem(data: bytes | str) -> Ed25519PublicKey:
    """Parse an Ed25519 public key PEM; `UserError` if it is not one."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise UserError(f"not a PEM public key ({exc}); see `autofine keys generate`") from exc
    if not isinstance(key, Ed25519PublicKey):
        kind = type(key).__name__
        raise UserError(f"public key is {kind}, not Ed25519; make one with `autofine keys generate`")
    return key


def load_public_key(path: Path | str) -> Ed25519PublicKey:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"public key file {path} does not exist; create it with `autofine keys generate`")
    return load_public_key_pem(path.read_bytes())


def load_private_key(path: Path | str, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read an Ed25519 private key PEM; `UserError` naming the file if it is missing or not such a key."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"signing key {path} does not exist; create it: `autofine keys generate CAMERA_ID`")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=password)
    except (ValueError, TypeError) as exc:
        raise UserError(f"signing key {path} is not a readable PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"signing key {path} is {type(key).__name__}, not Ed25519")
    return key


def key_paths(camera_id: str, out_dir: Path | str) -> tuple[Path, Path]:
    """Where `write_keypair` puts a camera's keys: `<camera_id>.key.pem` and `<camera_id>.pub.pem`."""
    out = Path(out_dir)
    return out / f"{camera_id}.key.pem", out / f"{camera_id}.pub.pem"


def write_keypair(
    camera_id: str, out_dir: Path | str, *, overwrite: bool = False, password: bytes | None = None
) -> tuple[Path, Path]:
    """Generate a camera's Ed25519 key pair; the private file is created mode 0600. Returns both paths."""
    private_path, public_path = key_paths(camera_id, out_dir)
    if not overwrite and (private_path.exists() or public_path.exists()):
        raise UserError(
            f"{private_path} or {public_path} already exists; a camera keeps its key "
            "(pass --force to replace it, then register the new public key at the service)"
        )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    if private_path.exists():
        private_path.unlink()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key, password=password))
    public_path.write_bytes(public_key_pem(key.public_key()))
    return private_path, public_path
