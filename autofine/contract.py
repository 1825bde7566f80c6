"""The HTTP contract between the camera side (`vision`) and the fine service (`api`).

The only module both halves import. A camera posts one `ViolationRecord` (as the multipart field `record`,
JSON) plus one multipart file per `EvidenceFile` (field name = `EvidenceFile.name`) to
`POST /api/v1/intake/violations`, authenticated with `Authorization: Bearer <camera token>`.
The service answers `IntakeResponse`: 201 for a new violation, 200 for a repeat of the same idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ViolationType = Literal["jaywalking", "littering", "smoking"]
VIOLATION_TYPES: tuple[str, ...] = ("jaywalking", "littering", "smoking")
INTAKE_PATH = "/api/v1/intake/violations"
SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelInfo(_Strict):
    id: str = Field(description="Registry id of the detector, e.g. 'fall-yolov8s' or 'yolox-nano'.")
    version: str = Field(description="Model version string from the registry.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the ONNX file that ran.")


class BoxAt(_Strict):
    frame_index: int = Field(ge=0)
    timestamp: datetime
    xyxy: tuple[float, float, float, float] = Field(description="Offender box in pixels of the source frame.")
    confidence: float = Field(ge=0, le=1, description="Detector confidence of the offender box.")
    rule_score: float = Field(ge=0, le=1, description="The rule's score for this frame (0 = not violating).")


class EvidenceFile(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="File name, no directories.")
    kind: Literal["snapshot", "clip", "object_crop", "other"]
    media_type: str = Field(description="e.g. image/jpeg, video/mp4")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Redaction(_Strict):
    method: str = Field(description="How bystanders were hidden, e.g. 'downscale-8x-gaussian-blur'.")
    regions: int = Field(ge=0, description="Number of regions redacted in the stored evidence.")
    offender_kept_visible: bool = True
    notes: str = ""


class Location(_Strict):
    address: str = ""
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class LitterObject(_Strict):
    xyxy: tuple[float, float, float, float]
    appeared_at: datetime
    label: str | None = Field(default=None, description="Class from a litter model, if one verified it.")
    label_confidence: float | None = Field(default=None, ge=0, le=1)


class ViolationRecord(_Strict):
    """Everything the camera asserts about one confirmed violation. Signed as a whole (see `signature`)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    camera_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    incident_id: str = Field(
        min_length=1, max_length=128, description="Derived from what was seen, stable across restarts."
    )
    violation_type: ViolationType
    onset: datetime = Field(description="When the violation started, on the stream's clock (UTC).")
    confirmed_at: datetime
    track_id: int
    confidence: float = Field(ge=0, le=1, description="Violation confidence after confirmation.")
    boxes: list[BoxAt] = Field(default_factory=list, description="Offender's box over time.")
    zones: list[str] = Field(default_factory=list, description="Zone names involved.")
    litter_object: LitterObject | None = None
    model: ModelInfo
    config_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the camera config.")
    thresholds: dict[str, float] = Field(default_factory=dict)
    software_version: str
    location: Location = Field(default_factory=Location)
    redaction: Redaction
    evidence: list[EvidenceFile] = Field(default_factory=list)
    signature: str | None = Field(
        default=None, description="Base64 Ed25519 signature over the canonical record."
    )
    signing_key_id: str | None = None

    @property
    def idempotency_key(self) -> str:
        return f"{self.camera_id}:{self.incident_id}"

    def canonical_bytes(self) -> bytes:
        """The bytes that are signed: the record without its signature, keys sorted, no whitespace."""
        import json

        payload = self.model_dump(mode="json", exclude={"signature", "signing_key_id"})
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


class IntakeResponse(BaseModel):
    violation_id: int
    fine_id: int | None
    status: str = Field(description="Fine/case status after intake, e.g. 'pending_review' or 'auto_issued'.")
    duplicate: bool = Field(description="True when this idempotency key had already been received.")
