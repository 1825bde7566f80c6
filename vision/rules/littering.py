"""Littering: an object appears on the watched ground by a person, stays there, and the person walks away.

Class-agnostic, because most litter (a butt, a wrapper, a bag) is no COCO class:
1. `vision.stabilize` maps the frame onto a still reference view (phones and poles shake);
2. `vision.background` finds stationary foreground inside `litter_watch` with person boxes masked out, so
   an object becomes visible to the rule the moment its carrier's box leaves it;
3. a new stationary region becomes a *litter object*, owned by the person track whose box uncovered it
   (the object was hidden by the carrier until they stepped away: `handover_s`), or by nobody (it blew in,
   it was there before, the camera's parallax made it) — only owned objects can become littering;
4. when an owned object has stayed `dwell_s` and its owner is at least `away_distance` body heights from it,
   every analysed frame gives a candidate for the owner until the object goes (confirm.py votes).
Not littering: objects with no person near when they appeared; objects removed again before `dwell_s`
(picked up); an owner who stays by the object; a frame where much of the zone changes at once (lighting).
Detections of `litter_classes` on the object label it and raise the score. One object gives one incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

import cv2
import numpy as np
from pydantic import Field

from vision.background import BackgroundConfig, StaticBlob, StationaryForeground
from vision.crops import detect_around
from vision.detections import box_iou
from vision.detectors.base import Detector
from vision.rules.base import Candidate, Observation, Rule
from vision.scene import RuleConfig, Scene
from vision.stabilize import Stabilized, Stabilizer, StabilizerConfig, map_boxes


class LitteringConfig(RuleConfig):
    dwell_s: float = Field(
        default=3.0,
        gt=0,
        le=600,
        description="Seconds an object must stay where it appeared before it counts.",
    )
    handover_s: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="The object's owner is the person whose box covered the object's place at most this many "
        "seconds before the object started to be still in the open.",
    )
    min_owner_cover: float = Field(
        default=0.5, gt=0, le=1, description="Share of the object's box the owner's box must have covered."
    )
    ground_band: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="A dropped object must appear within this share of its owner's height above their feet.",
    )
    attended_margin: float = Field(
        default=0.25,
        ge=0,
        le=5,
        description="An object within this share of another person's box size is attended (their bag).",
    )
    border_px: int = Field(
        default=8, ge=0, le=200, description="Ignore this many pixels at the frame edge (warping artefacts)."
    )
    away_distance: float = Field(
        default=0.6,
        ge=0,
        le=20,
        description="The owner must be at least this many body heights from the object (walked away).",
    )
    removal_grace_s: float = Field(
        default=0.6,
        ge=0,
        le=60,
        description="An object unseen (and not hidden by a person) this long is gone.",
    )
    person_margin: float = Field(
        default=0.12,
        ge=0,
        le=1,
        description="Person boxes are widened by this share of their size when masked.",
    )
    mask_classes: list[str] = Field(
        default_factory=lambda: ["person", "bicycle", "motorcycle", "car", "bus", "truck"],
        description="Detected classes whose boxes are masked out of the background model (they move).",
    )
    owner_classes: list[str] = Field(
        default_factory=lambda: ["person"], description="Track classes that can own (drop) an object."
    )
    litter_classes: list[str] = Field(
        default_factory=lambda: [
            "bottle",
            "cup",
            "handbag",
            "backpack",
            "suitcase",
            "litter",
            "cigarette_butt",
        ],
        description="Detector classes that look like litter: they label the object and raise the score.",
    )
    base_score: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Score of a class-agnostic object; a litter-class detection adds to it.",
    )
    mask_hold_s: float = Field(
        default=0.6,
        ge=0,
        le=10,
        description="A track's last box stays masked this long after it was last seen.",
    )
    verify_model: str | None = Field(
        default="litter",
        max_length=64,
        description="Registry id of the litter model run on a crop around each proposal (vision.crops."
        "detect_around); None = no verification.",
    )
    verify_conf: float = Field(
        default=0.25, ge=0.01, le=1, description="Litter model score a verifying box needs."
    )
    verify_margin: float = Field(
        default=2.0,
        ge=0,
        le=10,
        description="Context around a proposal for the litter model: the crop is widened by this many "
        "times the proposal's size on every side (93 pasted valid objects found at IoU ≥ 0.5: margin 0.5 → "
        "42, 1.0 → 74, 2.0 → 84; see docs/models.md).",
    )
    verify_attempts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="The litter model runs on an object's first this many candidate frames (best kept).",
    )
    unverified_factor: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="Score factor for a proposal the litter model found nothing litter-like on (such a "
        "record is flagged for human review).",
    )
    stabilizer: StabilizerConfig = Field(
        default_factory=StabilizerConfig, description="Camera-shake compensation."
    )
    background: BackgroundConfig = Field(
        default_factory=BackgroundConfig, description="Stationary foreground."
    )


@dataclass
class LitterObject:
    """A stationary region the rule follows, in reference (stabilised) coordinates."""

    object_id: int
    xyxy: np.ndarray  # (4,) float64, reference coordinates
    appeared_at: datetime
    appeared_frame: int
    owner_track_id: int | None
    owner_xyxy: np.ndarray | None  # owner's last box, reference coordinates
    owner_last_frame_xyxy: tuple[float, float, float, float] | None  # owner's last box, frame coordinates
    owner_confidence: float = 0.0
    last_seen: datetime | None = None
    label: str | None = None
    label_confidence: float = 0.0
    verified_by_model: bool = False  # the litter model found a litter-like box on it
    verify_runs: int = 0
    candidates: int = 0
    history: list[str] = field(default_factory=list)


def _box_distance(point: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Distance from a point to each (N, 4) box (0 inside)."""
    dx = np.maximum(np.maximum(boxes[:, 0] - point[0], 0), point[0] - boxes[:, 2])
    dy = np.maximum(np.maximum(boxes[:, 1] - point[1], 0), point[1] - boxes[:, 3])
    return np.hypot(np.maximum(dx, 0), np.maximum(dy, 0))


class LitteringRule(Rule):
    violation_type: ClassVar[str] = "littering"

    def __init__(self, config: LitteringConfig, scene: Scene, verifier: Detector | None = None) -> None:
        """`verifier`: the litter model (config `verify_model`), run on a crop around each proposal."""
        self.config = config
        self.scene = scene
        self.verifier = verifier
        self.stabilizer = Stabilizer(config.stabilizer)
        self.foreground = StationaryForeground(config.background)
        self.objects: dict[int, LitterObject] = {}
        self.finished: list[LitterObject] = []  # objects that went away (kept for inspection and tests)
        self._next_id = 1
        self._last_time: datetime | None = None
        self._watch: np.ndarray | None = None
        self._track_boxes: dict[int, tuple[datetime, np.ndarray]] = {}  # last frame-coordinate box per track
        self._start: datetime | None = None
        self._covered_by: np.ndarray | None = None  # int32 H×W: first track of the latest covering, -1 none
        self._covered_at: np.ndarray | None = None  # float32 H×W: when (seconds since start), -inf never
        self._covered_feet: np.ndarray | None = None  # float32 H×W: that coverer's feet, pixels below
        self._covered_height: np.ndarray | None = None  # float32 H×W: that coverer's box height
        self.last_update = None  # the latest ForegroundUpdate (debugging, drawing)
        self.lighting_changes = 0  # frames rejected as a lighting change

    # ---------------------------------------------------------------- per frame

    def evaluate(self, observation: Observation) -> list[Candidate]:
        if not self.scene.has("litter_watch"):
            return []
        frame = observation.frame
        dt = 0.0 if self._last_time is None else (frame.timestamp - self._last_time).total_seconds()
        self._last_time = frame.timestamp
        stabilized = self.stabilizer.stabilize(frame.image)
        if stabilized.reset:
            self._restart()
        elif stabilized.reanchor is not None:
            self._reanchor(stabilized.reanchor)
        watch = self._watch_mask(frame.height, frame.width)
        people_frame = self._mask_boxes(observation)
        people_ref = stabilized.boxes_to_reference(people_frame) if len(people_frame) else people_frame
        people = np.zeros(watch.shape, bool)
        for x1, y1, x2, y2 in np.round(people_ref).astype(int):
            people[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = True
        update = self.foreground.update(stabilized.image, people, watch, max(dt, 1e-3))
        self.last_update = update
        self.lighting_changes += int(update.lighting_change)
        owners = self._owner_boxes(observation, stabilized)
        self._remember_cover(owners, frame.timestamp, watch.shape)
        if not update.lighting_change:
            self._follow_objects(
                update.blobs, update.foreground, people, owners, frame.index, frame.timestamp
            )
        self._label_objects(observation, stabilized)
        return self._candidates(observation, stabilized, owners)

    # ---------------------------------------------------------------- masks and boxes

    def _watch_mask(self, height: int, width: int) -> np.ndarray:
        if self._watch is None or self._watch.shape != (height, width):
            mask = np.zeros((height, width), np.uint8)
            for zone in self.scene.zones["litter_watch"]:
                cv2.fillPoly(mask, [np.round(zone.polygon).astype(np.int32)], 1)
            b = self.config.border_px
            if b:
                mask[:b], mask[-b:], mask[:, :b], mask[:, -b:] = 0, 0, 0, 0
            self._watch = mask.astype(bool)
        return self._watch

    def _mask_boxes(self, observation: Observation) -> np.ndarray:
        """Frame-coordinate boxes to hide from the background model: movers now, and tracks seen just now."""
        now = observation.frame.timestamp
        dets = observation.detections.of_classes(self.config.mask_classes)
        boxes = [dets.xyxy.astype(np.float64)] if len(dets) else []
        for track_id, track in observation.tracks.items():
            self._track_boxes[track_id] = (track.last.timestamp, np.asarray(track.last.xyxy, np.float64))
        hold = timedelta(seconds=self.config.mask_hold_s)
        for track_id, (seen, box) in list(self._track_boxes.items()):
            if now - seen > hold:
                del self._track_boxes[track_id]
            else:
                boxes.append(box[None])
        if not boxes:
            return np.zeros((0, 4))
        all_boxes = np.concatenate(boxes)
        w = all_boxes[:, 2] - all_boxes[:, 0]
        h = all_boxes[:, 3] - all_boxes[:, 1]
        m = self.config.person_margin
        return all_boxes + np.stack([-m * w, -m * h, m * w, m * h], axis=1)

    def _owner_boxes(self, observation: Observation, stabilized: Stabilized) -> dict[int, np.ndarray]:
        """Reference-coordinate boxes of the owner-class tracks seen in this frame."""
        seen = {
            tid: t
            for tid, t in observation.tracks.items()
            if t.class_name in self.config.owner_classes and t.last.frame_index == observation.frame.index
        }
        if not seen:
            return {}
        boxes = stabilized.boxes_to_reference(np.array([t.last.xyxy for t in seen.values()]))
        return dict(zip(seen, boxes.astype(np.float64), strict=True))

    def _seconds(self, now: datetime) -> float:
        if self._start is None:
            self._start = now
        return (now - self._start).total_seconds()

    def _remember_cover(self, owners: dict[int, np.ndarray], now: datetime, shape: tuple[int, int]) -> None:
        if self._covered_by is None or self._covered_by.shape != shape:
            self._covered_by = np.full(shape, -1, np.int32)
            self._covered_at = np.full(shape, -np.inf, np.float32)
            self._covered_feet = np.zeros(shape, np.float32)
            self._covered_height = np.zeros(shape, np.float32)
        assert self._covered_at is not None
        t = self._seconds(now)
        m = self.config.person_margin
        episode_start = t - self.config.handover_s
        for track_id, (x1, y1, x2, y2) in owners.items():
            w, h = x2 - x1, y2 - y1
            box = np.round([x1 - m * w, y1 - m * h, x2 + m * w, y2 + m * h]).astype(int).clip(0)
            place = (slice(box[1], box[3]), slice(box[0], box[2]))
            # A place keeps its first coverer while people keep covering it: the one who brought the object
            # there, not a companion who walks over it a moment later.
            by, at = self._covered_by[place], self._covered_at[place]
            by[at < episode_start] = track_id
            at[:] = t
            mine = by == track_id  # where the coverer leaves it: how far below it their feet were
            rows = np.arange(box[1], box[1] + by.shape[0], dtype=np.float32)[:, None]
            below = np.broadcast_to(y2 - rows, by.shape)
            self._covered_feet[place][mine] = below[mine]
            self._covered_height[place][mine] = h

    def _uncovered_by(self, blob: StaticBlob, now: datetime) -> int | None:
        """The track that first covered this place in the covering that ended just before it was still."""
        assert self._covered_by is not None and self._covered_at is not None
        x1, y1, x2, y2 = (int(round(v)) for v in blob.xyxy)
        ids = self._covered_by[y1:y2, x1:x2]
        at = self._covered_at[y1:y2, x1:x2]
        if not ids.size:
            return None
        # revealed when it started to be still: the covering ended then (an old still region that someone
        # walks over later keeps its old stillness clock and is not theirs)
        appeared = self._seconds(now) - blob.static_s
        recent = np.abs(at - appeared) <= self.config.handover_s
        values, counts = np.unique(ids[recent & (ids >= 0)], return_counts=True)
        if not len(values):
            return None
        best = int(np.argmax(counts))
        if counts[best] < self.config.min_owner_cover * ids.size:
            return None
        owner = int(values[best])
        # dropped things land by the feet: the object must sit in the low part of the owner's box (a lamp
        # post or a sign that someone walked past sits level with their body)
        theirs = recent & (ids == owner)
        rows = np.arange(y1, y1 + ids.shape[0], dtype=np.float32)[:, None]
        feet = float(np.median((np.broadcast_to(rows, ids.shape) + self._covered_feet[y1:y2, x1:x2])[theirs]))
        height = float(np.median(self._covered_height[y1:y2, x1:x2][theirs]))
        return owner if blob.centroid[1] >= feet - self.config.ground_band * height else None

    # ---------------------------------------------------------------- objects

    def _follow_objects(
        self,
        blobs: tuple[StaticBlob, ...],
        foreground: np.ndarray,
        people: np.ndarray,
        owners: dict[int, np.ndarray],
        frame_index: int,
        now: datetime,
    ) -> None:
        blob_boxes = np.array([b.xyxy for b in blobs], dtype=np.float64).reshape(-1, 4)
        matched: set[int] = set()
        for obj in list(self.objects.values()):
            if len(blob_boxes):
                overlap = box_iou(obj.xyxy[None], blob_boxes)[0]
                hits = np.flatnonzero(overlap > 0.1)
                if len(hits):
                    matched.update(int(h) for h in hits)
                    obj.last_seen = now
                    continue
            x1, y1, x2, y2 = np.round(obj.xyxy).astype(int).clip(0)
            place = (slice(y1, max(y2, y1 + 1)), slice(x1, max(x2, x1 + 1)))
            if people[place].size and people[place].mean() > 0.3:
                continue  # a person stands on it: cannot tell, keep it
            if foreground[place].size and foreground[place].mean() >= 0.2:
                obj.last_seen = now  # still differs from the ground (its stillness clock may have restarted)
                continue
            assert obj.last_seen is not None
            if (now - obj.last_seen).total_seconds() > self.config.removal_grace_s:
                obj.history.append(f"gone at {now.isoformat()}")
                self.finished.append(self.objects.pop(obj.object_id))
        for i, blob in enumerate(blobs):
            if i in matched:
                continue
            self._new_object(blob, owners, frame_index, now)
        for obj in self.objects.values():  # the owner's box follows the owner
            if obj.owner_track_id is not None and obj.owner_track_id in owners:
                obj.owner_xyxy = owners[obj.owner_track_id]

    def _new_object(
        self, blob: StaticBlob, owners: dict[int, np.ndarray], frame_index: int, now: datetime
    ) -> None:
        appeared_at = now - timedelta(seconds=blob.static_s)
        owner_id = self._uncovered_by(blob, now)
        owner_box = owners.get(owner_id) if owner_id is not None else None
        obj = LitterObject(
            object_id=self._next_id,
            xyxy=np.array(blob.xyxy, dtype=np.float64),
            appeared_at=appeared_at,
            appeared_frame=frame_index,
            owner_track_id=owner_id,
            owner_xyxy=owner_box,
            owner_last_frame_xyxy=None,
            last_seen=now,
        )
        self._next_id += 1
        self.objects[obj.object_id] = obj

    def _label_objects(self, observation: Observation, stabilized: Stabilized) -> None:
        litter = observation.detections.of_classes(self.config.litter_classes)
        if not len(litter) or not self.objects:
            return
        for obj in self.objects.values():
            box = stabilized.boxes_to_frame(obj.xyxy[None])
            overlap = box_iou(box, litter.xyxy)[0]
            for j in np.flatnonzero(overlap > 0.1):
                if float(litter.confidence[j]) > obj.label_confidence:
                    obj.label, obj.label_confidence = str(litter.class_name[j]), float(litter.confidence[j])

    def _candidates(
        self, observation: Observation, stabilized: Stabilized, owners: dict[int, np.ndarray]
    ) -> list[Candidate]:
        now = observation.frame.timestamp
        candidates = []
        for obj in self.objects.values():
            if obj.owner_track_id is None or obj.owner_xyxy is None:
                continue
            track = observation.tracks.get(obj.owner_track_id)
            if track is not None:  # remember where the owner was last seen (they may leave the picture)
                obj.owner_last_frame_xyxy = track.last.xyxy
                obj.owner_confidence = track.last.confidence
            if (now - obj.appeared_at).total_seconds() < self.config.dwell_s:
                continue
            height = max(obj.owner_xyxy[3] - obj.owner_xyxy[1], 1.0)
            centre = (obj.xyxy[:2] + obj.xyxy[2:]) / 2
            away = float(_box_distance(centre, obj.owner_xyxy[None])[0]) / height
            if away < self.config.away_distance:
                continue
            if self._attended(obj, owners):
                continue  # someone stands at it: their bag, or a body part the detector's box missed
            object_frame_box = stabilized.boxes_to_frame(obj.xyxy[None])[0]
            if self.verifier is not None and obj.verify_runs < self.config.verify_attempts:
                self._verify(obj, observation.frame.image, object_frame_box)
            score = self.config.base_score + (1 - self.config.base_score) * obj.label_confidence
            if self.verifier is not None and not obj.verified_by_model:
                score = self.config.base_score * self.config.unverified_factor
            obj.candidates += 1
            candidates.append(
                Candidate(
                    violation_type=self.violation_type,
                    track_id=obj.owner_track_id,
                    score=float(min(score, 1.0)),
                    xyxy=tuple(float(v) for v in obj.owner_last_frame_xyxy),  # type: ignore[arg-type]
                    detector_confidence=float(obj.owner_confidence),
                    zones=("litter_watch",),
                    details={
                        "litter_object": {
                            "xyxy": tuple(round(float(v), 1) for v in object_frame_box),
                            "appeared_at": obj.appeared_at,
                            "label": obj.label,
                            "label_confidence": round(obj.label_confidence, 3) if obj.label else None,
                        },
                        "object_id": obj.object_id,
                        "owner_distance_heights": round(away, 2),
                        "record_flags": self._flags(obj),
                    },
                )
            )
        return candidates

    def _verify(self, obj: LitterObject, image: np.ndarray, frame_box: np.ndarray) -> None:
        """Run the litter model around the proposal; the best box overlapping it labels the object."""
        obj.verify_runs += 1
        found = detect_around(image, frame_box, self.verifier, margin=self.config.verify_margin)  # type: ignore[arg-type]
        found = found[found.confidence >= self.config.verify_conf]
        if not len(found):
            return
        x1, y1, x2, y2 = frame_box
        centres = found.centers
        on_it = (box_iou(frame_box[None].astype(np.float64), found.xyxy.astype(np.float64))[0] > 0.1) | (
            (centres[:, 0] >= x1) & (centres[:, 0] <= x2) & (centres[:, 1] >= y1) & (centres[:, 1] <= y2)
        )
        if not on_it.any():
            return
        best = int(np.flatnonzero(on_it)[np.argmax(found.confidence[on_it])])
        obj.verified_by_model = True
        if float(found.confidence[best]) > obj.label_confidence:
            obj.label, obj.label_confidence = str(found.class_name[best]), float(found.confidence[best])
        obj.history.append(f"litter model: {obj.label} {obj.label_confidence:.2f}")

    def _flags(self, obj: LitterObject) -> dict[str, float]:
        """Numbers the record carries in `thresholds` so reviewers and the service see the verification."""
        if self.verifier is None:
            return {"verification.ran": 0.0}
        return {
            "verification.ran": 1.0,
            "verification.litter_found": float(obj.verified_by_model),
            "verification.litter_confidence": round(obj.label_confidence, 3)
            if obj.verified_by_model
            else 0.0,
            "review.required": 0.0 if obj.verified_by_model else 1.0,
        }

    def _attended(self, obj: LitterObject, owners: dict[int, np.ndarray]) -> bool:
        """True when another person's box (widened by `attended_margin` of its size) touches the object."""
        m = self.config.attended_margin
        for track_id, (x1, y1, x2, y2) in owners.items():
            if track_id == obj.owner_track_id:
                continue
            w, h = x2 - x1, y2 - y1
            ox1, oy1, ox2, oy2 = obj.xyxy
            if ox1 <= x2 + m * w and ox2 >= x1 - m * w and oy1 <= y2 + m * h and oy2 >= y1 - m * h:
                return True
        return False

    # ---------------------------------------------------------------- camera motion

    def _restart(self) -> None:
        self.foreground.reset()
        self.finished.extend(self.objects.values())
        self.objects.clear()

    def _reanchor(self, matrix: np.ndarray) -> None:
        self.foreground.warp(matrix)
        if self._covered_by is not None and self._covered_at is not None:
            size = (self._covered_by.shape[1], self._covered_by.shape[0])
            self._covered_by = cv2.warpPerspective(
                self._covered_by.astype(np.float32), matrix, size, flags=cv2.INTER_NEAREST, borderValue=-1
            ).astype(np.int32)
            self._covered_at = cv2.warpPerspective(
                self._covered_at, matrix, size, flags=cv2.INTER_NEAREST, borderValue=-np.inf
            )
            self._covered_feet = cv2.warpPerspective(
                self._covered_feet, matrix, size, flags=cv2.INTER_NEAREST
            )
            self._covered_height = cv2.warpPerspective(
                self._covered_height, matrix, size, flags=cv2.INTER_NEAREST
            )
        for obj in self.objects.values():
            obj.xyxy = map_boxes(matrix, obj.xyxy[None])[0].astype(np.float64)
            if obj.owner_xyxy is not None:
                obj.owner_xyxy = map_boxes(matrix, obj.owner_xyxy[None])[0].astype(np.float64)
