"""Evidence files behind one interface: a local directory (default) or an S3-compatible object store.

Keys are generated here (random hex): no client string becomes a path or an object name. Every backend
checks sha256 on the way in and on the way out, so the hashes in the record and the audit log hold whatever
the storage is. Several service workers on several hosts share one store by pointing at the same bucket.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autofine.hashing import sha256_file

if TYPE_CHECKING:
    from api.settings import Settings

_KEY = re.compile(r"^[0-9a-f]{32}$")


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"invalid evidence key {key!r}")
    return key


class EvidenceStore(ABC):
    """Where intake puts evidence bytes and review reads them back (verified)."""

    @abstractmethod
    def put(self, data: bytes, *, expected_sha256: str) -> str:
        """Store `data` if its sha256 matches; returns the new key. Raises ValueError on mismatch."""

    @abstractmethod
    def open_verified(self, key: str, *, expected_sha256: str) -> Path:
        """A local file with the stored bytes, after checking they still hash to what intake recorded."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove a stored file; False when it was not there."""

    @staticmethod
    def _check(data: bytes, expected_sha256: str) -> None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise ValueError(f"sha256 mismatch: expected {expected_sha256}, got {actual}")


class LocalEvidenceStore(EvidenceStore):
    """Files under one directory, `<root>/<key[:2]>/<key>`, written atomically (fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        check_key(key)
        path = (self.root / key[:2] / key).resolve()
        if not path.is_relative_to(self.root):  # unreachable with a hex key; kept as a second wall
            raise ValueError("evidence key escapes the store")
        return path

    def put(self, data: bytes, *, expected_sha256: str) -> str:
        self._check(data, expected_sha256)
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
        path = self.path_for(key)
        if sha256_file(path) != expected_sha256:
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


class S3EvidenceStore(EvidenceStore):
    """Objects `<prefix><key[:2]>/<key>` in one bucket of an S3-compatible store (AWS S3, MinIO, Ceph…).

    Credentials come the way boto3 finds them (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, a profile, an
    instance role). Reads are verified into a local cache folder, because the review routes serve files.
    """

    def __init__(
        self,
        *,
        bucket: str,
        cache_dir: Path,
        prefix: str = "evidence/",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        import boto3  # lazy: only S3 deployments need it (extra `cluster`)

        self.bucket = bucket
        self.prefix = prefix
        self.cache_dir = Path(cache_dir).resolve()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def object_name(self, key: str) -> str:
        return f"{self.prefix}{check_key(key)[:2]}/{key}"

    def put(self, data: bytes, *, expected_sha256: str) -> str:
        self._check(data, expected_sha256)
        key = secrets.token_hex(16)
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.object_name(key),
            Body=data,
            Metadata={"sha256": expected_sha256},
        )
        return key

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.object_name(key))["Body"].read()

    def open_verified(self, key: str, *, expected_sha256: str) -> Path:
        path = self.cache_dir / key
        if path.is_file() and sha256_file(path) == expected_sha256:
            return path
        try:
            data = self.read(key)
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"evidence {key} is not in bucket {self.bucket}") from None
        if hashlib.sha256(data).hexdigest() != expected_sha256:
            raise ValueError(f"stored evidence {key} no longer matches its sha256")
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> bool:
        (self.cache_dir / check_key(key)).unlink(missing_ok=True)
        if not self.exists(key):
            return False
        self.client.delete_object(Bucket=self.bucket, Key=self.object_name(key))
        return True


def make_evidence_store(settings: Settings) -> EvidenceStore:
    """The store the settings choose: `evidence_backend` 'local' (default) or 's3'."""
    if settings.evidence_backend == "s3":
        if not settings.s3_bucket:
            from autofine.errors import UserError

            raise UserError("AUTOFINE_EVIDENCE_BACKEND=s3 needs AUTOFINE_S3_BUCKET (and credentials)")
        return S3EvidenceStore(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            cache_dir=settings.data_dir / "evidence-cache",
        )
    return LocalEvidenceStore(settings.resolved_evidence_dir)
