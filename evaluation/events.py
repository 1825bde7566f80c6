"""Event-level accuracy: ground-truth violations on a clip, and matching the pipeline's incidents to them.

The annotation format (one YAML file per clip, see `datasets/events/README.md`):

    clip: sample:vtest.avi          # `sample:NAME` (vision.samples), `synthetic:NAME` (evaluation.synthetic),
                                    # or a video path relative to this file
    camera: ../../cameras/vtest.yaml
    annotator: who looked, and how
    analysed: [0.0, 79.5]           # seconds of the clip that were annotated (default: all of it)
    events:
      - type: jaywalking
        start: 12.0                 # seconds from the clip's first frame
        end: 19.5
        box: {t: 15.0, xyxy: [410, 120, 450, 230]}  # the offender at one moment (optional)
        note: man in a dark coat crosses the lawn to the bench
    ignore:                         # an unmatched incident here is not a false positive (optional)
      - {start: 0.0, end: 2.0, box: {t: 1.0, xyxy: [548, 238, 582, 325]}, note: on the road 1.5 s, then zebra}

An incident matches an event of the same type when their time spans overlap (each widened by
`time_slack_s`) and, if the event has a box and the incident has a box within `box_max_gap_s` of its moment,
the two boxes overlap (IoU ≥ `min_box_iou`). Matching is one-to-one: pairs confirmed by a box first, then the
longest time overlap first. A second
incident for one event is a false positive (`duplicate`), an incident of the wrong type is a false positive of
its type and leaves the event a false negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from autofine.errors import UserError
from vision.detections import box_iou


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BoxHint(_Strict):
    t: float = Field(ge=0, description="Seconds from the clip's first frame.")
    xyxy: tuple[float, float, float, float] = Field(description="Offender box in frame pixels at time t.")


class Span(_Strict):
    start: float = Field(ge=0, description="Seconds from the clip's first frame.")
    end: float = Field(ge=0, description="Seconds from the clip's first frame, ≥ start.")
    note: str = Field(default="", description="Why this span is special.")

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class IgnoreSpan(Span):
    box: BoxHint | None = Field(default=None, description="Limit the span to incidents near this box.")


class GroundTruthEvent(Span):
    type: str = Field(description="Violation type: jaywalking, littering or smoking.")
    box: BoxHint | None = Field(default=None, description="Offender box at one moment, for spatial matching.")


class ClipAnnotation(_Strict):
    clip: str = Field(description="'sample:NAME', 'synthetic:NAME' or a video path relative to this file.")
    camera: str = Field(default="", description="Camera config YAML, relative to the annotation file.")
    annotator: str = Field(default="", description="Who annotated, and how.")
    detector: str = Field(
        default="", description="Detector instead of the camera's model: 'color-blobs' for synthetic clips."
    )
    analysed: tuple[float, float] | None = Field(
        default=None, description="Seconds [start, end] of the clip that were annotated (default: all)."
    )
    events: list[GroundTruthEvent] = Field(default_factory=list, description="Every violation in the span.")
    ignore: list[IgnoreSpan] = Field(
        default_factory=list,
        description="Spans (optionally one person's box) where an unmatched incident is no FP.",
    )


@dataclass(frozen=True)
class LoadedClip:
    annotation: ClipAnnotation
    path: Path  # the annotation file
    clip_path: Path
    camera_path: Path | None


def resolve_clip(spec: str, base: Path) -> Path:
    if spec.startswith("sample:"):
        from vision.samples import fetch_sample

        return Path(fetch_sample(spec.removeprefix("sample:")))
    if spec.startswith("synthetic:"):
        from evaluation.synthetic import synthetic_clip

        return synthetic_clip(spec.removeprefix("synthetic:"))
    path = Path(spec)
    return path if path.is_absolute() else (base / path).resolve()


def load_annotation(path: str | Path, *, resolve: bool = True) -> LoadedClip:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"annotation file {path} not found")
    try:
        annotation = ClipAnnotation.model_validate(yaml.safe_load(path.read_text()) or {})
    except ValueError as exc:
        first = str(exc).splitlines()
        raise UserError(f"{path}: {' '.join(first[:3])}") from None
    base = path.parent
    clip_path = resolve_clip(annotation.clip, base) if resolve else Path(annotation.clip)
    camera = (base / annotation.camera).resolve() if annotation.camera else None
    if resolve and not clip_path.is_file():
        raise UserError(f"{path}: clip {clip_path} not found")
    if resolve and camera is not None and not camera.is_file():
        raise UserError(f"{path}: camera config {camera} not found")
    return LoadedClip(annotation, path, clip_path, camera)


@dataclass(frozen=True)
class Incident:
    """One violation the pipeline reported, in seconds from the clip's first frame."""

    violation_type: str
    start: float
    end: float
    times: np.ndarray  # (K,) seconds of each offender box
    boxes: np.ndarray  # (K, 4) xyxy
    incident_id: str = ""
    track_id: int = -1
    confidence: float = 0.0
    snapshot: Path | None = None

    def box_near(self, t: float, max_gap: float) -> np.ndarray | None:
        if len(self.times) == 0:
            return None
        i = int(np.argmin(np.abs(self.times - t)))
        return self.boxes[i] if abs(self.times[i] - t) <= max_gap else None


@dataclass(frozen=True)
class MatchConfig:
    time_slack_s: float = 1.0  # spans are widened by this much on each side before testing overlap
    min_box_iou: float = 0.2  # offender boxes must overlap this much (loose: the event box is one hint)
    box_max_gap_s: float = 1.0  # the spatial test needs an incident box this close to the hint's moment


@dataclass(frozen=True)
class Match:
    event: GroundTruthEvent
    incident: Incident
    overlap_s: float


@dataclass(frozen=True)
class FalsePositive:
    incident: Incident
    reason: str  # "no event", "duplicate", "wrong place", or "wrong type (event is X)"


@dataclass(frozen=True)
class TypeScore:
    violation_type: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        """None when there was no incident of this type (nothing to be precise about)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """None when there was no event of this type (nothing to recall)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None if p is None and r is None else 0.0
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class EventMatchResult:
    matches: tuple[Match, ...]
    false_positives: tuple[FalsePositive, ...]
    false_negatives: tuple[GroundTruthEvent, ...]
    ignored: tuple[Incident, ...] = ()
    scores: dict[str, TypeScore] = field(default_factory=dict)


def _overlap(a0: float, a1: float, b0: float, b1: float, slack: float) -> float:
    """Length of the overlap of two spans after widening each by `slack`; < 0 when they do not meet."""
    return min(a1 + slack, b1 + slack) - max(a0 - slack, b0 - slack)


def _ignored(incident: Incident, spans: Sequence[Span], cfg: MatchConfig) -> bool:
    return any(
        _overlap(incident.start, incident.end, s.start, s.end, cfg.time_slack_s) >= 0
        and _spatial_ok(s, incident, cfg)
        for s in spans
    )


def _box_iou_at_hint(event: Span, incident: Incident, cfg: MatchConfig) -> float | None:
    """IoU of the event's box hint with the incident's box at that moment; None when not comparable."""
    hint = getattr(event, "box", None)
    if hint is None:
        return None
    box = incident.box_near(hint.t, cfg.box_max_gap_s)
    if box is None:  # no incident box near the hint's moment: a walker moves too far to compare, time decides
        return None
    return float(box_iou(np.asarray(hint.xyxy), box)[0, 0])


def _spatial_ok(event: Span, incident: Incident, cfg: MatchConfig) -> bool:
    iou = _box_iou_at_hint(event, incident, cfg)
    return iou is None or iou >= cfg.min_box_iou


def match_events(
    events: Sequence[GroundTruthEvent],
    incidents: Sequence[Incident],
    *,
    ignore: Sequence[Span] = (),
    types: Sequence[str] | None = None,
    config: MatchConfig | None = None,
) -> EventMatchResult:
    """Match incidents to events one-to-one by type, time overlap and (when hinted) box overlap."""
    cfg = config or MatchConfig()
    live = list(incidents)
    pairs = []
    for ei, event in enumerate(events):
        for ii, incident in enumerate(live):
            if incident.violation_type != event.type:
                continue
            overlap = _overlap(event.start, event.end, incident.start, incident.end, cfg.time_slack_s)
            iou = _box_iou_at_hint(event, incident, cfg)
            if overlap >= 0 and (iou is None or iou >= cfg.min_box_iou):
                pairs.append((iou is not None, round(overlap, 3), ei, ii))
    # pairs confirmed by the box hint first, then the longest time overlap (rounded: ties go by order)
    pairs.sort(key=lambda p: (not p[0], -p[1], p[2], p[3]))
    used_events: set[int] = set()
    used_incidents: set[int] = set()
    matches = []
    for _, overlap, ei, ii in pairs:
        if ei in used_events or ii in used_incidents:
            continue
        used_events.add(ei)
        used_incidents.add(ii)
        matches.append(Match(events[ei], live[ii], overlap))

    fps, ignored = [], []
    for ii, incident in enumerate(live):
        if ii in used_incidents:
            continue
        if _ignored(incident, ignore, cfg):  # an unmatched incident where the annotator could not decide
            ignored.append(incident)
            continue
        fps.append(FalsePositive(incident, _fp_reason(incident, events, used_events, cfg)))
    fns = tuple(e for ei, e in enumerate(events) if ei not in used_events)

    all_types = sorted(set(types or ()) | {e.type for e in events} | {i.violation_type for i in incidents})
    scores = {
        t: TypeScore(
            t,
            tp=sum(m.event.type == t for m in matches),
            fp=sum(f.incident.violation_type == t for f in fps),
            fn=sum(e.type == t for e in fns),
        )
        for t in all_types
    }
    return EventMatchResult(tuple(matches), tuple(fps), fns, tuple(ignored), scores)


def _fp_reason(
    incident: Incident, events: Sequence[GroundTruthEvent], used: set[int], cfg: MatchConfig
) -> str:
    in_time = [
        (ei, e)
        for ei, e in enumerate(events)
        if _overlap(e.start, e.end, incident.start, incident.end, cfg.time_slack_s) >= 0
    ]
    same_type = [(ei, e) for ei, e in in_time if e.type == incident.violation_type]
    if same_type:
        ious = [_box_iou_at_hint(e, incident, cfg) for _, e in same_type]
        if any(iou is not None and iou >= cfg.min_box_iou for iou in ious) or any(
            e.box is None for _, e in same_type
        ):
            return "duplicate"
        if all(iou is not None for iou in ious):
            return "wrong place"
        return "duplicate or another person (overlaps an event in time; no box near its hint to compare)"
    if in_time:
        return f"wrong type (event is {in_time[0][1].type})"
    return "no event"
