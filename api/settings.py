"""Service configuration: one pydantic-settings object, read from `AUTOFINE_*` env vars (or a `.env` file).

Nothing is built at import time: `api.app.create_app(settings)` builds the engine, stores and routers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me"
DEFAULT_SCHEDULE = Path(__file__).with_name("fine_schedule.yaml")


def default_data_dir() -> Path:
    return Path(os.environ.get("AUTOFINE_DATA_DIR", Path.home() / ".local" / "share" / "autofine"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTOFINE_", env_file=".env", extra="ignore")

    environment: Literal["local", "staging", "production"] = Field(
        default="local", description="Outside 'local' the default secret key is refused."
    )
    data_dir: Path = Field(
        default_factory=default_data_dir, description="Root for DB file, evidence, exports."
    )
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty = SQLite file `<data_dir>/autofine.sqlite3`."
    )
    evidence_dir: Path | None = Field(
        default=None, description="Evidence store; default `<data_dir>/evidence`."
    )
    export_dir: Path | None = Field(default=None, description="ERAP file drop; default `<data_dir>/erap`.")
    secret_key: str = Field(default=DEFAULT_SECRET, min_length=8, description="Signs session cookies/tokens.")
    signing_key_path: Path | None = Field(
        default=None, description="Ed25519 private key (PEM) signing ERAP documents; created if missing."
    )
    review_all: bool = Field(default=False, description="Force human review of every fine, ignoring policy.")
    claim_lease_seconds: int = Field(
        default=600, ge=1, le=86_400, description="How long a claim holds a case."
    )
    access_token_minutes: int = Field(default=480, ge=1, le=43_200, description="Bearer token lifetime.")
    retention_rejected_days: int = Field(
        default=30, ge=0, le=3650, description="Evidence of rejected cases is deleted after this many days."
    )
    retention_evidence_days: int = Field(
        default=400, ge=1, le=3650, description="Any evidence older than this (not on legal hold) is deleted."
    )
    fine_schedule_path: Path = Field(default=DEFAULT_SCHEDULE, description="Versioned fine schedule (YAML).")
    max_evidence_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, le=2**31, description="Largest single evidence file accepted."
    )
    evidence_backend: Literal["local", "s3"] = Field(
        default="local",
        description="Evidence storage: 'local' (evidence_dir) or 's3' (an S3-compatible bucket).",
    )
    s3_bucket: str = Field(default="", description="Bucket for evidence_backend 's3'.")
    s3_prefix: str = Field(default="evidence/", description="Object name prefix inside the bucket.")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, Ceph, moto); None = AWS."
    )
    s3_region: str | None = Field(default=None, description="Bucket region (None = boto3's default).")
    migrate_on_startup: bool = Field(default=True, description="Run `alembic upgrade head` in create_app.")
    cookie_https_only: bool = Field(default=False, description="Mark the session cookie Secure.")
    require_signatures: bool = Field(
        default=True,
        description="Refuse records without a camera signature (keys: `autofine admin camera-key add`).",
    )
    min_age_of_responsibility: int = Field(
        default=16, ge=0, le=30, description="KoAP age of administrative responsibility; younger: no fine."
    )
    anchor_dir: Path | None = Field(
        default=None, description="Audit anchors (JSON lines of the chain head); default <data_dir>/anchors."
    )
    anchor_interval_seconds: int = Field(
        default=3600, ge=0, le=86_400 * 7, description="The app exports an anchor this often; 0 = off."
    )

    @model_validator(mode="after")
    def _reject_default_secret(self) -> Settings:
        if self.environment != "local" and self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                "AUTOFINE_SECRET_KEY is the default; set a random value (e.g. `openssl rand -hex 32`) "
                "outside AUTOFINE_ENVIRONMENT=local"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'autofine.sqlite3'}"

    @property
    def resolved_evidence_dir(self) -> Path:
        return self.evidence_dir or self.data_dir / "evidence"

    @property
    def resolved_export_dir(self) -> Path:
        return self.export_dir or self.data_dir / "erap"

    @property
    def resolved_anchor_dir(self) -> Path:
        return self.anchor_dir or self.data_dir / "anchors"

    @property
    def resolved_signing_key_path(self) -> Path:
        return self.signing_key_path or self.data_dir / "erap_signing_key.pem"
