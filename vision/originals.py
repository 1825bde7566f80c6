"""Unredacted originals, only when a camera's config asks for them: Fernet-encrypted at rest, short-lived.

Stored evidence is redacted; the service never receives an original. Some deployments want the original for a
short time (e.g. a court order about a bystander). Then each clip's unredacted encoding is encrypted with
Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key taken from an environment variable, the
plaintext is removed at once, and `purge_expired` deletes encrypted copies older than the retention period.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from autofine.errors import UserError

SUFFIX = ".fernet"


class OriginalsVault:
    """Encrypted unredacted files in one directory, each deleted `retention_s` after it was written."""

    def __init__(self, directory: Path, key: bytes, retention_s: float) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise UserError(
                "the unredacted-copy key is not a Fernet key (32 url-safe base64 bytes); make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            ) from exc
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.retention_s = retention_s

    @classmethod
    def from_env(cls, directory: Path, key_env: str, retention_s: float) -> OriginalsVault:
        key = os.environ.get(key_env)
        if not key:
            raise UserError(
                f"evidence.keep_unredacted is on but ${key_env} is empty; set it to a Fernet key, or turn "
                "keep_unredacted off (the default: no unredacted copy is kept)"
            )
        return cls(directory, key.encode(), retention_s)

    def store(self, plaintext_path: Path) -> Path:
        """Encrypt `plaintext_path` into the vault, delete the plaintext, return the encrypted file's path."""
        target = self.directory / (plaintext_path.name + SUFFIX)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(self._fernet.encrypt(plaintext_path.read_bytes()))
        os.replace(tmp, target)
        plaintext_path.unlink()
        return target

    def read(self, encrypted_path: Path) -> bytes:
        """The plaintext of a stored file; `UserError` if the key is wrong or the file was altered."""
        try:
            return self._fernet.decrypt(Path(encrypted_path).read_bytes())
        except InvalidToken as exc:
            raise UserError(
                f"{encrypted_path} does not decrypt with this key (wrong key or altered)"
            ) from exc

    def purge_expired(self, now: float | None = None) -> list[Path]:
        """Delete encrypted copies older than the retention period (by modification time); return them."""
        now = time.time() if now is None else now
        removed = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            if now - path.stat().st_mtime > self.retention_s:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed
