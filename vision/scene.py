"""Per-camera configuration (one YAML per camera) and the zones it draws on the picture.

`CameraConfig` is declared once, strictly (`extra="forbid"`, every field described), so a typo in a YAML fails
at startup with one line naming the key. `Scene` is the runtime view of the zones: `Zone.contains(points)`
answers "which of these foot points are inside", and rules combine zones without doing pixel maths.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from autofine.errors import UserError
from vision.motion import MotionConfig

ZONE_KINDS: tuple[str, ...] = ("road", "crosswalk", "no_smoking", "litter_watch")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

Point = tuple[float, float]
Polygon = Annotated[list[Point], Field(description="Polygon corners as [x, y] pixels of the source frame.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- geometry checks


def _segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    """Proper intersection of segments p1p2 and q1q2 (touching at an end point does not count)."""

    def orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def polygon_problem(points: list[Point]) -> str | None:
    """Why `points` is not a usable polygon, or None when it is."""
    if len(points) < 3:
        return f"has {len(points)} points, a polygon needs at least 3"
    pts = np.asarray(points, dtype=np.float64)
    n = len(pts)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:  # neighbours through the closing edge
                continue
            if _segments_cross(pts[i], pts[(i + 1) % n], pts[j], pts[(j + 1) % n]):
                edges = f"edge {i}-{i + 1} crosses edge {j}-{(j + 1) % n}"
                return f"is self-intersecting ({edges}); reorder its points"
    area = 0.5 * abs(
        float(np.dot(pts[:, 0], np.roll(pts[:, 1], -1)) - np.dot(pts[:, 1], np.roll(pts[:, 0], -1)))
    )
    if area < 1.0:
        return "has no area (its points are on one line)"
    return None


# ---------------------------------------------------------------- config models


class ZonesConfig(_Strict):
    """Named areas of the picture, each a list of pixel polygons (a zone may be made of several pieces)."""

    road: list[Polygon] = Field(
        default_factory=list, description="Carriageway where pedestrians may not walk."
    )
    crosswalk: list[Polygon] = Field(
        default_factory=list, description="Pedestrian crossings on the road; several allowed."
    )
    no_smoking: list[Polygon] = Field(default_factory=list, description="Areas where smoking is forbidden.")
    litter_watch: list[Polygon] = Field(
        default_factory=list, description="Ground watched for dropped litter."
    )

    @field_validator("road", "crosswalk", "no_smoking", "litter_watch")
    @classmethod
    def _valid_polygons(cls, polygons: list[list[Point]]) -> list[list[Point]]:
        for i, poly in enumerate(polygons):
            problem = polygon_problem(poly)
            if problem:
                raise ValueError(f"polygon {i} {problem}")
        return polygons


class SignalPhase(_Strict):
    state: Literal["red", "green"] = Field(description="Pedestrian signal colour during this phase.")
    seconds: float = Field(gt=0, le=3600, description="Length of the phase in seconds.")


class SignalScheduleConfig(_Strict):
    """A fixed-time pedestrian signal: phases repeat from `cycle_start`."""

    phases: list[SignalPhase] = Field(min_length=1, description="Phases in order; the cycle repeats.")
    cycle_start: datetime = Field(default=_EPOCH, description="A moment (UTC) when the first phase began.")


class SignalRegionConfig(_Strict):
    """A pedestrian signal visible in the picture: the colour inside `box` tells red from green."""

    box: tuple[int, int, int, int] = Field(description="x1, y1, x2, y2 pixels around the lit signal head.")
    min_saturation: int = Field(default=90, ge=0, le=255, description="HSV saturation a lit lamp pixel has.")
    min_value: int = Field(default=120, ge=0, le=255, description="HSV brightness a lit lamp pixel has.")
    min_lit_fraction: float = Field(
        default=0.05, ge=0, le=1, description="Share of the box that must be lit to tell a phase."
    )

    @field_validator("box")
    @classmethod
    def _ordered(cls, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        if box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError("box must be x1, y1, x2, y2 with x2 > x1 and y2 > y1")
        return box


class SignalConfig(_Strict):
    """Exactly one of `schedule` or `region`."""

    schedule: SignalScheduleConfig | None = Field(default=None, description="Fixed-time phases.")
    region: SignalRegionConfig | None = Field(
        default=None, description="Read the signal's colour from the frame."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SignalConfig:
        if (self.schedule is None) == (self.region is None):
            raise ValueError("signal needs exactly one of 'schedule' or 'region'")
        return self


class ConfirmConfig(_Strict):
    """How per-frame candidates become one incident (see vision/confirm.py)."""

    votes: int = Field(default=4, ge=1, le=300, description="N: violating frames needed in the window.")
    window: int = Field(
        default=6, ge=1, le=600, description="M: the last M analysed frames that are counted."
    )
    min_confidence: float = Field(default=0.35, ge=0, le=1, description="Detector confidence a vote needs.")
    cooldown_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="A new incident overlapping a recent one within this time is the same.",
    )
    overlap_iou: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="IoU with a recent incident's last box that marks a re-found track.",
    )
    refound_speed_heights_per_s: float = Field(
        default=0.3,
        ge=0,
        le=10,
        description="Growth of the re-found search radius around the predicted spot, heights per s unseen.",
    )

    @model_validator(mode="after")
    def _votes_fit(self) -> ConfirmConfig:
        if self.votes > self.window:
            raise ValueError(f"votes ({self.votes}) cannot exceed window ({self.window})")
        return self


class RuleConfig(_Strict):
    """Fields every rule shares."""

    enabled: bool = Field(default=True, description="Run this rule on this camera.")
    confirm: ConfirmConfig = Field(default_factory=ConfirmConfig, description="Temporal confirmation.")

    def recorded_thresholds(self) -> dict[str, float]:
        """The numbers a violation record carries as `thresholds`: every numeric setting, flattened one level
        (`confirm.votes`), a sub-stage's switches as 1/0 (`two_stage.flip_tta`)."""
        flat: dict[str, float] = {}
        for key, value in self.model_dump().items():
            if isinstance(value, dict):
                for sub, v in value.items():
                    if isinstance(v, int | float):
                        flat[f"{key}.{sub}"] = float(v)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                flat[key] = float(value)
        return flat


class JaywalkingConfig(RuleConfig):
    min_seconds_on_road: float = Field(
        default=1.5, ge=0, le=60, description="Time the foot point must stay on road outside crosswalks."
    )
    motion_window_s: float = Field(
        default=2.0, gt=0, le=30, description="Window over which walking (not standing) is measured."
    )
    min_displacement_heights: float = Field(
        default=0.4,
        ge=0,
        le=20,
        description="Foot displacement over the window, in body heights, that counts as walking.",
    )


class RulesConfig(_Strict):
    """One section per rule. A new rule adds its section here and one factory line in vision/rules."""

    jaywalking: JaywalkingConfig = Field(default_factory=JaywalkingConfig, description="Jaywalking rule.")
    # Littering and smoking keep their configs beside their rules (vision/rules/littering.py, smoking.py);
    # those modules import RuleConfig from here, so the names are resolved at the end of this module.
    littering: LitteringConfig = Field(
        default_factory=lambda: LitteringConfig(), description="Littering rule (needs a litter_watch zone)."
    )
    smoking: SmokingConfig = Field(
        default_factory=lambda: SmokingConfig(), description="Smoking rule (needs a no_smoking zone)."
    )


class DetectionConfig(_Strict):
    min_confidence: float = Field(default=0.3, ge=0, le=1, description="Detections below this are dropped.")
    person_class: str = Field(default="person", description="Class name the tracker follows as people.")


class DetectorRuntimeConfig(_Strict):
    """How the model and decoding run on this machine (see docs/fast-path.md)."""

    providers: list[str] = Field(
        default_factory=list,
        description="onnxruntime providers, most wanted first ('cpu', 'openvino', 'cuda', 'tensorrt'); "
        "empty = the most capable installed.",
    )
    threads: int | None = Field(
        default=None, ge=1, le=256, description="onnxruntime intra-op threads; None = onnxruntime's choice."
    )
    spin: bool = Field(
        default=False,
        description="Let idle onnxruntime threads busy-wait for work. Off by default: spinning threads take "
        "the cores from the evidence, decode and other cameras' threads (measured on 2 cores: inference "
        "96 vs 54 ms per frame beside a busy thread; alone, spinning is ~10 % faster).",
    )
    rect: bool = Field(
        default=True,
        description="Pad frames only to the next stride multiple, not to a square, when the model accepts "
        "any input size (a dynamic export): a 4:3 frame runs at 640×480 instead of 640×640.",
    )
    decode_ahead: int = Field(
        default=2,
        ge=0,
        le=16,
        description="Frames a reader thread decodes ahead, beside inference (vision/prefetch.py); 0 = decode "
        "in series with the pipeline.",
    )


class TrackerConfig(_Strict):
    lost_track_s: float = Field(
        default=2.0, ge=0, le=60, description="How long a lost track may be re-found."
    )
    activation_confidence: float = Field(default=0.4, ge=0, le=1, description="Confidence to start a track.")
    high_confidence: float = Field(default=0.5, ge=0, le=1, description="ByteTrack's first-stage threshold.")
    min_iou: float = Field(default=0.1, ge=0, le=1, description="IoU needed to match a box to a track.")
    history_s: float = Field(default=30.0, gt=0, le=600, description="Seconds of history each track keeps.")


class EvidenceConfig(_Strict):
    pre_roll_s: float = Field(default=2.0, ge=0, le=30, description="Clip seconds before the onset.")
    post_roll_s: float = Field(default=2.0, ge=0, le=30, description="Clip seconds after confirmation.")
    max_clip_s: float = Field(default=12.0, gt=0, le=120, description="Longest clip stored.")
    clip_fps: float | None = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Highest frame rate of the stored clip: when more frames are analysed, every n-th goes "
        "into the clip (a reviewer needs the action, not every frame; each clip frame is redacted and "
        "encoded). None = every analysed frame.",
    )
    jpeg_quality: int = Field(default=90, ge=30, le=100, description="Snapshot JPEG quality.")
    clip_crf: int = Field(
        default=26, ge=10, le=45, description="H.264 constant rate factor (lower = better)."
    )
    redact_bystanders: bool = Field(default=True, description="Blur every person but the offender.")
    head_fraction: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Upper share of a bystander's person box that is blurred: 1.0 (default) hides the whole "
        "person, as privacy by default asks; 0.3 hides only head and face.",
    )
    redact_motion: bool = Field(
        default=True,
        description="Also blur every moving region outside the offender's box (against the clip's own "
        "median background), so bystanders the detector missed are hidden too.",
    )
    motion_threshold: float = Field(
        default=30.0, gt=0, le=255, description="Grey difference from the clip background that is motion."
    )
    motion_dilate_px: int = Field(
        default=15, ge=0, le=200, description="Grow each moving region by this many pixels before blurring."
    )
    keep_unredacted: bool = Field(
        default=False,
        description="Keep an unredacted copy of each clip, Fernet-encrypted at rest (key from "
        "unredacted_key_env); never sent to the service.",
    )
    unredacted_key_env: str = Field(
        default="AUTOFINE_UNREDACTED_KEY",
        min_length=1,
        max_length=100,
        description="Environment variable holding the Fernet key for unredacted copies.",
    )
    unredacted_retention_h: float = Field(
        default=24.0, gt=0, le=24 * 30, description="Hours an encrypted unredacted copy is kept."
    )


class StreamConfig(_Strict):
    reconnect_initial_s: float = Field(default=0.5, gt=0, le=60, description="First reconnect delay.")
    reconnect_max_s: float = Field(default=30.0, gt=0, le=600, description="Longest reconnect delay.")
    max_reconnects: int | None = Field(
        default=None, ge=0, description="Give up after this many; None = never."
    )
    read_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="A read slower than this is a failure."
    )


class Location(_Strict):
    address: str = Field(default="", description="Street address of the camera's view.")
    latitude: float | None = Field(default=None, ge=-90, le=90, description="WGS84 latitude.")
    longitude: float | None = Field(default=None, ge=-180, le=180, description="WGS84 longitude.")


class DeliveryConfig(_Strict):
    """Where confirmed violations are sent (wired by vision/outbox.py)."""

    service_url: str = Field(description="Base URL of the fine service, e.g. https://fines.example.kz.")
    token: str | None = Field(default=None, description="Camera bearer token (prefer token_env).")
    token_env: str | None = Field(
        default=None, description="Environment variable that holds the token (default AUTOFINE_CAMERA_TOKEN)."
    )
    outbox_path: Path | None = Field(
        default=None,
        description="SQLite outbox file; default $AUTOFINE_OUTBOX_DIR/<camera_id>.sqlite3 "
        "($AUTOFINE_DATA_DIR/outbox, else ~/.local/share/autofine/outbox).",
    )


class CameraConfig(_Strict):
    camera_id: str = Field(
        default="camera", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Camera id."
    )
    source: str = Field(
        default="sample:vtest.avi",
        description="Video file, image folder, rtsp:// or http(s):// URL, webcam index ('0' or 'webcam:0'), "
        "or sample:<name>.",
    )
    start_time: datetime = Field(
        default=_EPOCH,
        description="Wall-clock (UTC) time of a file's first frame; streams use the real clock.",
    )
    analysis_fps: float | None = Field(
        default=5.0, gt=0, le=120, description="Frames per second analysed; None analyses every frame."
    )
    frame_size: tuple[int, int] | None = Field(
        default=None, description="Expected (width, height); zones are checked against it when given."
    )
    model: str = Field(default="default", description="Detector registry id, e.g. 'default' or 'yolox-nano'.")
    model_path: Path | None = Field(default=None, description="ONNX file to use instead of the registry's.")
    detection: DetectionConfig = Field(default_factory=DetectionConfig, description="Detection filtering.")
    detector: DetectorRuntimeConfig = Field(
        default_factory=DetectorRuntimeConfig, description="Execution providers and threads for the model."
    )
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="ByteTrack settings.")
    zones: ZonesConfig = Field(default_factory=ZonesConfig, description="Zones in pixel coordinates.")
    signal: SignalConfig | None = Field(
        default=None, description="Pedestrian signal, if the crossing has one."
    )
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Per-rule thresholds.")
    motion: MotionConfig = Field(
        default_factory=MotionConfig, description="Motion gating of the detector (vision/motion.py)."
    )
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig, description="Snapshot/clip/redaction.")
    stream: StreamConfig = Field(default_factory=StreamConfig, description="Reconnect behaviour of streams.")
    location: Location = Field(default_factory=Location, description="Where the camera looks.")
    delivery: DeliveryConfig | None = Field(default=None, description="Send violations to the fine service.")
    signing_key: Path | None = Field(
        default=None,
        description="Ed25519 private key PEM (`autofine keys generate`); each record is signed with it after "
        "every evidence file's sha256 is in. None = records go unsigned.",
    )

    @field_validator("start_time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _zones_in_frame(self) -> CameraConfig:
        if self.frame_size is not None:
            problem = zones_outside_frame(self.zones, *self.frame_size)
            if problem:
                raise ValueError(problem)
        return self

    @property
    def config_hash(self) -> str:
        """sha256 of the canonical JSON of this config (keys sorted, no whitespace)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()


def zones_outside_frame(zones: ZonesConfig, width: int, height: int) -> str | None:
    for kind in ZONE_KINDS:
        for i, poly in enumerate(getattr(zones, kind)):
            for x, y in poly:
                if not (0 <= x <= width and 0 <= y <= height):
                    return (
                        f"zones.{kind} polygon {i} has point ({x:g}, {y:g}) outside the "
                        f"{width}x{height} frame; "
                        "redraw it on a frame of this camera"
                    )
    return None


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; see docs/pipeline.md for the fields)"
        parts.append(f"{loc}: {msg}")
    more = f" (+{len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return f"invalid camera config {path}: " + "; ".join(parts) + more


def load_camera_config(path: str | Path) -> CameraConfig:
    """Read and validate one camera YAML.

    Relative `source`/`model_path` are resolved against the YAML's folder.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"camera config {path} not found; pass an existing YAML (e.g. cameras/vtest.yaml)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"camera config {path} is not valid YAML{where}; fix its syntax") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"camera config {path} must be a mapping of keys, not {type(data).__name__}")
    try:
        config = CameraConfig.model_validate(data)
    except ValidationError as exc:
        raise UserError(_format_validation_error(path, exc)) from None
    updates: dict[str, object] = {}
    base = path.resolve().parent
    if _looks_like_relative_path(config.source) and (base / config.source).exists():
        updates["source"] = str(base / config.source)
    if config.model_path is not None and not config.model_path.is_absolute():
        updates["model_path"] = base / config.model_path
    return config.model_copy(update=updates) if updates else config


def _looks_like_relative_path(source: str) -> bool:
    return "://" not in source and not source.startswith(("sample:", "webcam:", "/")) and not source.isdigit()


# ---------------------------------------------------------------- runtime zones


@dataclass(frozen=True)
class Zone:
    """One polygon. `contains` answers for many points at once (even-odd ray casting, vectorised)."""

    kind: str
    index: int
    polygon: np.ndarray  # (K, 2) float64

    @property
    def name(self) -> str:
        return f"{self.kind}[{self.index}]"

    @cached_property
    def _edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        xi, yi = self.polygon[:, 0], self.polygon[:, 1]
        return xi, yi, np.roll(xi, 1), np.roll(yi, 1)

    def contains(self, points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        x, y = pts[:, 0:1], pts[:, 1:2]
        xi, yi, xj, yj = self._edges
        straddles = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = (xj - xi) * (y - yi) / (yj - yi) + xi
        crossings = straddles & (x < x_cross)
        return (crossings.sum(axis=1) % 2) == 1


class Scene:
    """All zones of one camera, grouped by kind."""

    def __init__(self, zones: ZonesConfig) -> None:
        self.zones: dict[str, list[Zone]] = {
            kind: [Zone(kind, i, np.asarray(p, dtype=np.float64)) for i, p in enumerate(getattr(zones, kind))]
            for kind in ZONE_KINDS
        }

    def has(self, kind: str) -> bool:
        return bool(self.zones.get(kind))

    def inside(self, kind: str, points: np.ndarray) -> np.ndarray:
        """Boolean per point: inside any zone of `kind` (all False when the camera has none)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        result = np.zeros(len(pts), dtype=bool)
        for zone in self.zones.get(kind, []):
            result |= zone.contains(pts)
        return result

    def zone_names_at(self, point: tuple[float, float]) -> tuple[str, ...]:
        return tuple(
            z.name for kind in ZONE_KINDS for z in self.zones[kind] if z.contains(np.array([point]))[0]
        )


class PedestrianSignal:
    """Tells whether the pedestrian signal is red for a frame: from a fixed schedule or the lamp's colour."""

    def __init__(self, config: SignalConfig) -> None:
        self.config = config

    def is_red(self, timestamp: datetime, image: np.ndarray | None = None) -> bool | None:
        """True = red, False = green, None = cannot tell (the rule then ignores the signal)."""
        if self.config.schedule is not None:
            return self._scheduled_red(self.config.schedule, timestamp)
        if self.config.region is not None and image is not None:
            return self._colour_red(self.config.region, image)
        return None

    @staticmethod
    def _scheduled_red(schedule: SignalScheduleConfig, timestamp: datetime) -> bool:
        cycle = sum(p.seconds for p in schedule.phases)
        t = (timestamp - schedule.cycle_start).total_seconds() % cycle
        for phase in schedule.phases:
            if t < phase.seconds:
                return phase.state == "red"
            t -= phase.seconds
        return schedule.phases[-1].state == "red"

    @staticmethod
    def _colour_red(region: SignalRegionConfig, image: np.ndarray) -> bool | None:
        import cv2

        x1, y1, x2, y2 = region.box
        crop = image[y1:y2, x1:x2]
        if crop.size == 0:
            return None
        hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
        h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        lit = (s >= region.min_saturation) & (v >= region.min_value)
        red = lit & ((h <= 10) | (h >= 170))
        green = lit & (h >= 40) & (h <= 95)
        need = region.min_lit_fraction * lit.size
        n_red, n_green = int(red.sum()), int(green.sum())
        if max(n_red, n_green) < need:
            return None
        return n_red > n_green


# Rule configs that live beside their rules; imported last because those modules import RuleConfig above.
from vision.rules.littering import LitteringConfig  # noqa: E402
from vision.rules.smoking import SmokingConfig  # noqa: E402

RulesConfig.model_rebuild()
CameraConfig.model_rebuild()
