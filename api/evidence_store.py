"""Evidence files on local disk. Keys are generated here (random hex): no client string becomes a path."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

_KEY = re.compile(r"^[0-9a-f]{32}$")


class EvidenceStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"invalid evidence key {key!r}")
        path = (self.root / key[:2] / key).resolve()
        if not path.is_relative_to(self.root):  # unreachable with a hex key; kept as a second wall
            raise ValueError("evidence key escapes the store")
        return path

    def put(self, data: bytes, *, expected_sha256: str) -> str:
        """Write `data` if its sha256 matches; returns the new key. Raises ValueError on mismatch."""
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise ValueError(f"sha256 mismatch: expected {expected_sha256}, got {actual}")
        key = secrets.token_hex(16)
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return key

    def open_verified(self, key: str, *, expected_sha256: str) -> Path:
        """Path of a stored file, after checking its bytes still hash to what intake recorded."""
        path = self.path_for(key)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != expected_sha256:
            raise ValueError(f"stored evidence {key} no longer matches its sha256")
        return path

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def delete(self, key: str) -> bool:
        path = self.path_for(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
