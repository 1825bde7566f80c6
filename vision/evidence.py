"""Evidence for each confirmed incident: snapshot JPEG, H.264 clip, and the `ViolationRecord` holding hashes.

- `FrameBuffer` keeps the last seconds of analysed frames (with their tracked detections) for clips.
- `EvidenceRecorder` holds confirmed incidents until their post-roll has been seen (or the stream ends),
  then builds (`ready`/`flush`), or hands out `EvidenceJob`s (`take_ready`/`take_all`: the incident plus its
  frames, cut from the buffer) for `build_job` to build on another thread (vision/evidence_worker.py).
  A build makes: the best voting frame as JPEG (offender box, zones, a visible "AI-detected" notice), a clip
  from pre-roll before the onset to post-roll after confirmation encoded as browser-playable H.264 MP4
  (yuv420p, PyAV's bundled libx264; the bytes hashed here are the bytes a reviewer plays), and the record.
- Bystanders' heads, and every moving region outside the offender's box, are blurred in everything stored
  (vision/redaction.py); the record says what was. An unredacted clip is kept only if the config asks, and
  then encrypted (vision/originals.py).
- With `signing_key` set, the record is signed (autofine/signing.py) after every file's sha256 is in it;
  nothing touches the files after hashing (the outbox copies them byte for byte and re-checks the hashes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from autofine import __version__
from autofine.contract import (
    BoxAt,
    EvidenceFile,
    LitterObject,
    Location,
    ModelInfo,
    Redaction,
    ViolationRecord,
)
from autofine.hashing import sha256_file
from vision.confirm import Incident
from vision.detections import Detections
from vision.frame import Frame
from vision.originals import OriginalsVault
from vision.redaction import METHOD, MotionBackground, redact_bystanders
from vision.scene import CameraConfig, Scene

AI_NOTICE = "AI-detected - pending human review"
_ZONE_COLOURS = {
    "road": (60, 60, 230),
    "crosswalk": (230, 160, 40),
    "no_smoking": (40, 40, 200),
    "litter_watch": (40, 200, 200),
}


@dataclass(frozen=True)
class BufferedFrame:
    frame: Frame
    detections: Detections  # tracked detections of this frame


class FrameBuffer:
    """The last `seconds` of analysed frames, oldest first."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._items: deque[BufferedFrame] = deque()

    def add(self, frame: Frame, detections: Detections) -> None:
        self._items.append(BufferedFrame(frame, detections))
        cutoff = frame.timestamp - timedelta(seconds=self.seconds)
        while self._items and self._items[0].frame.timestamp < cutoff:
            self._items.popleft()

    def between(self, start: datetime, end: datetime) -> list[BufferedFrame]:
        return [b for b in self._items if start <= b.frame.timestamp <= end]

    @property
    def latest(self) -> datetime | None:
        return self._items[-1].frame.timestamp if self._items else None

    def __len__(self) -> int:
        return len(self._items)


def litter_object_from(details: Mapping[str, Any]) -> LitterObject | None:
    """The littering rule's `details["litter_object"]` (box, appearance time, label) as the contract type."""
    raw = details.get("litter_object")
    return LitterObject.model_validate(raw) if raw else None


def draw_zones(image: np.ndarray, scene: Scene, alpha: float = 0.25) -> np.ndarray:
    """Zones as translucent fills with outlines and their names."""
    overlay = image.copy()
    out = image.copy()
    for kind, zones in scene.zones.items():
        colour = _ZONE_COLOURS.get(kind, (200, 200, 200))
        for zone in zones:
            pts = zone.polygon.astype(np.int32)
            cv2.fillPoly(overlay, [pts], colour)
    cv2.addWeighted(overlay, alpha, out, 1 - alpha, 0, dst=out)
    for kind, zones in scene.zones.items():
        colour = _ZONE_COLOURS.get(kind, (200, 200, 200))
        for zone in zones:
            pts = zone.polygon.astype(np.int32)
            cv2.polylines(out, [pts], True, colour, 2, cv2.LINE_AA)
            x, y = _label_anchor(pts, image.shape[1])
            cv2.putText(
                out,
                zone.name,
                (int(x) + 4, int(y) + 16),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                colour,
                1,
                cv2.LINE_AA,
            )
    return out


def _label_anchor(pts: np.ndarray, width: int) -> tuple[int, int]:
    """Inside the zone, near its top: the topmost vertex nudged towards the centroid, kept in the frame."""
    cx, cy = pts.mean(axis=0)
    tx, ty = pts[np.argmin(pts[:, 1])]
    x, y = 0.6 * tx + 0.4 * cx, 0.6 * ty + 0.4 * cy
    return int(min(max(x - 30, 2), width - 90)), int(y)


def draw_offender(image: np.ndarray, xyxy: tuple[float, ...], label: str) -> None:
    x1, y1, x2, y2 = (int(round(v)) for v in xyxy)
    cv2.rectangle(image, (x1, y1), (x2, y2), (0, 0, 255), 2, cv2.LINE_AA)
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    ty = max(th + 4, y1)
    cv2.rectangle(image, (x1, ty - th - 4), (x1 + tw + 4, ty), (0, 0, 255), -1)
    cv2.putText(
        image, label, (x1 + 2, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA
    )


def draw_notice(image: np.ndarray, text: str) -> None:
    """The visible AI notice (AI law art. 21) plus the time, bottom-left."""
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    h = image.shape[0]
    cv2.rectangle(image, (0, h - th - 10), (tw + 10, h), (0, 0, 0), -1)
    cv2.putText(image, text, (5, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)


def encode_h264(images: list[np.ndarray], path: Path, fps: float, crf: int = 26) -> None:
    """Browser-playable MP4: H.264 (libx264 from the PyAV wheel), yuv420p, even size, faststart."""
    import av

    h, w = images[0].shape[:2]
    w2, h2 = w - w % 2, h - h % 2
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        # one encoder thread: evidence is background work beside the detector's threads (measured 250 vs 296
        # CPU ms for a 43-frame vtest clip with libx264's automatic threads)
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        for image in images:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:h2, :w2]), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@dataclass(frozen=True)
class EvidenceJob:
    """A finished incident and the buffered frames (references; frames are never modified) its evidence
    shows, cut from the buffer when its post-roll passed."""

    incident: Incident
    frames: tuple[BufferedFrame, ...]


@dataclass
class _Pending:
    incident: Incident
    due: datetime  # confirmed_at + post-roll


class EvidenceRecorder:
    """Buffers frames and confirmed incidents; `ready()` returns finished (record, files) pairs."""

    def __init__(
        self,
        config: CameraConfig,
        scene: Scene,
        model_info: ModelInfo,
        work_dir: Path,
        *,
        fps: float,
    ) -> None:
        self.config = config
        self.scene = scene
        self.model_info = model_info
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        ev = config.evidence
        self.buffer = FrameBuffer(ev.max_clip_s + ev.pre_roll_s + ev.post_roll_s)
        self.pending: list[_Pending] = []
        self._config_hash = config.config_hash
        self.signer = None
        if config.signing_key is not None:
            from autofine.signing import Ed25519Signer

            self.signer = Ed25519Signer(config.signing_key)  # a missing/bad key fails here, before any frame
        self.originals: OriginalsVault | None = None
        if ev.keep_unredacted:
            self.originals = OriginalsVault.from_env(
                self.work_dir / "unredacted", ev.unredacted_key_env, ev.unredacted_retention_h * 3600
            )
            self.originals.purge_expired()

    def add_frame(self, frame: Frame, detections: Detections) -> None:
        self.buffer.add(frame, detections)

    def add_incident(self, incident: Incident) -> None:
        due = incident.confirmed_at + timedelta(seconds=self.config.evidence.post_roll_s)
        self.pending.append(_Pending(incident, due))

    def ready(self, now: datetime) -> list[tuple[ViolationRecord, dict[str, Path]]]:
        """Incidents whose post-roll has passed at stream time `now`."""
        return [self.build_job(job) for job in self.take_ready(now)]

    def flush(self) -> list[tuple[ViolationRecord, dict[str, Path]]]:
        """Everything still pending, with the frames there are (end of stream / stop)."""
        return [self.build_job(job) for job in self.take_all()]

    def take_ready(self, now: datetime) -> list[EvidenceJob]:
        """Like `ready`, but only cut each incident's frames out of the buffer (cheap); build them later."""
        done = [p for p in self.pending if p.due <= now]
        self.pending = [p for p in self.pending if p.due > now]
        return [self.job(p.incident) for p in done]

    def take_all(self) -> list[EvidenceJob]:
        """Like `flush`, but unbuilt."""
        done, self.pending = self.pending, []
        return [self.job(p.incident) for p in done]

    def job(self, incident: Incident) -> EvidenceJob:
        """The incident with the buffered frames its clip shows, as the buffer holds them now."""
        ev = self.config.evidence
        litter = litter_object_from(incident.details)
        shown_from = min(incident.onset, litter.appeared_at) if litter else incident.onset  # show the drop
        start = max(
            shown_from - timedelta(seconds=ev.pre_roll_s),
            incident.confirmed_at + timedelta(seconds=ev.post_roll_s) - timedelta(seconds=ev.max_clip_s),
        )
        end = incident.confirmed_at + timedelta(seconds=ev.post_roll_s)
        return EvidenceJob(incident, tuple(self.buffer.between(start, end)))

    # ---------------------------------------------------------------- building

    def build(self, incident: Incident) -> tuple[ViolationRecord, dict[str, Path]]:
        return self.build_job(self.job(incident))

    def build_job(self, job: EvidenceJob) -> tuple[ViolationRecord, dict[str, Path]]:
        """Redact, draw, encode, hash and sign one incident's evidence. Touches no buffer state, so it may
        run on another thread than the frame loop (vision/evidence_worker.py)."""
        ev = self.config.evidence
        incident = job.incident
        litter = litter_object_from(incident.details)
        frames = list(job.frames)
        offender_boxes = self._offender_boxes(incident, frames)
        label = f"{incident.violation_type} #{incident.track_id}"
        stem = incident.incident_id
        files: dict[str, Path] = {}
        regions_total = 0
        motion_on = ev.redact_bystanders and ev.redact_motion
        background = (  # one per clip; each frame's mask is made when the frame is rendered
            MotionBackground(
                [b.frame.image for b in frames], threshold=ev.motion_threshold, dilate_px=ev.motion_dilate_px
            )
            if motion_on
            else None
        )

        best = incident.best_vote
        best_frame = next((b for b in frames if b.frame.index == best.frame_index), None)
        snap_path = self.work_dir / f"{stem}_snapshot.jpg"
        if best_frame is not None:
            snapshot, n = self._render(best_frame, incident, best.xyxy, label, zones=True, motion=background)
            regions_total += n
            cv2.imwrite(str(snap_path), snapshot, [cv2.IMWRITE_JPEG_QUALITY, ev.jpeg_quality])
            files[snap_path.name] = snap_path

        clip_path = self.work_dir / f"{stem}_clip.mp4"
        step = max(1, round(self.fps / ev.clip_fps)) if ev.clip_fps else 1
        clip_frames = frames[::step]
        clip_images = []
        for b in clip_frames:
            image, n = self._render(
                b,
                incident,
                offender_boxes.get(b.frame.index),
                label,
                zones=False,
                motion=background,
            )
            regions_total += n
            clip_images.append(image)
        if clip_images:
            encode_h264(clip_images, clip_path, self.fps / step, ev.clip_crf)
            files[clip_path.name] = clip_path
            if self.originals is not None:
                self.originals.purge_expired()
                original = self.work_dir / f"{stem}_unredacted.mp4"
                encode_h264([b.frame.image for b in clip_frames], original, self.fps / step, ev.clip_crf)
                self.originals.store(original)

        evidence = [
            EvidenceFile(
                name=name,
                kind="snapshot" if name.endswith(".jpg") else "clip",
                media_type="image/jpeg" if name.endswith(".jpg") else "video/mp4",
                sha256=sha256_file(path),
                size=path.stat().st_size,
            )
            for name, path in files.items()
        ]
        record = ViolationRecord(
            camera_id=self.config.camera_id,
            incident_id=incident.incident_id,
            violation_type=incident.violation_type,  # type: ignore[arg-type]
            onset=incident.onset,
            confirmed_at=incident.confirmed_at,
            track_id=incident.track_id,
            confidence=incident.confidence,
            boxes=self._boxes_at(incident, frames, offender_boxes),
            zones=list(incident.zones),
            litter_object=litter,
            model=self.model_info,
            config_hash=self._config_hash,
            thresholds=self._thresholds(incident.violation_type)
            | {k: float(v) for k, v in incident.details.get("record_flags", {}).items()},
            software_version=__version__,
            location=Location(**self.config.location.model_dump()),
            redaction=Redaction(
                method=METHOD if ev.redact_bystanders else "none",
                regions=regions_total,
                offender_kept_visible=True,
                notes=(
                    (
                        "whole bodies (person boxes) of bystanders"
                        if ev.head_fraction >= 1
                        else f"heads (upper {ev.head_fraction:.0%} of person boxes) of bystanders"
                    )
                    + (
                        " and every moving region outside the offender's box (against the clip's median "
                        "background)"
                        if background is not None and background.usable
                        else ""
                    )
                    + f" blurred in the snapshot and in {len(clip_images)} clip frames; offender "
                    f"(track {incident.track_id}) kept visible"
                    if ev.redact_bystanders
                    else "redaction disabled in camera config"
                ),
            ),
            evidence=evidence,
        )
        if self.signer is not None:
            record = self.signer.sign(record)  # last: the record now holds every file's final sha256
        return record, files

    def _render(
        self,
        item: BufferedFrame,
        incident: Incident,
        offender_xyxy: tuple[float, float, float, float] | None,
        label: str,
        *,
        zones: bool,
        motion: MotionBackground | None = None,
    ) -> tuple[np.ndarray, int]:
        ev = self.config.evidence
        image = item.frame.image
        regions = 0
        litter = litter_object_from(incident.details)
        shown_litter = litter if litter is not None and item.frame.timestamp >= litter.appeared_at else None
        if ev.redact_bystanders:
            result = redact_bystanders(
                image,
                item.detections,
                person_class=self.config.detection.person_class,
                offender_track_id=incident.track_id,
                offender_xyxy=offender_xyxy,
                head_fraction=ev.head_fraction,
                motion=motion.mask(image) if motion is not None and motion.usable else None,
                keep_xyxy=[shown_litter.xyxy] if shown_litter is not None else [],
            )
            image, regions = result.image, len(result.regions)
        else:
            image = image.copy()
        if zones:
            image = draw_zones(image, self.scene)
        if offender_xyxy is not None:
            draw_offender(image, offender_xyxy, label)
        if shown_litter is not None:
            x1, y1, x2, y2 = (int(round(v)) for v in shown_litter.xyxy)
            cv2.rectangle(image, (x1, y1), (x2, y2), (0, 200, 255), 2)
            cv2.putText(
                image, shown_litter.label or "object", (x1, max(y1 - 4, 10)), 0, 0.5, (0, 200, 255), 1
            )
        stamp = item.frame.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-4] + "Z"
        draw_notice(image, f"{self.config.camera_id}  {stamp}  {AI_NOTICE}")
        return image, regions

    @staticmethod
    def _offender_boxes(
        incident: Incident, frames: list[BufferedFrame]
    ) -> dict[int, tuple[float, float, float, float]]:
        boxes: dict[int, tuple[float, float, float, float]] = {}
        for b in frames:
            ids = b.detections.tracker_id
            if ids is None:
                continue
            rows = np.flatnonzero(ids == incident.track_id)
            if len(rows):
                boxes[b.frame.index] = tuple(float(v) for v in b.detections.xyxy[rows[0]])  # type: ignore[assignment]
        for v in incident.votes:
            boxes.setdefault(v.frame_index, v.xyxy)
        return boxes

    @staticmethod
    def _boxes_at(
        incident: Incident, frames: list[BufferedFrame], offender_boxes: Mapping[int, tuple[float, ...]]
    ) -> list[BoxAt]:
        votes = {v.frame_index: v for v in incident.votes}
        out = []
        for b in frames:
            box = offender_boxes.get(b.frame.index)
            if box is None:
                continue
            vote = votes.get(b.frame.index)
            if vote is not None:
                conf = vote.detector_confidence
            else:
                ids = b.detections.tracker_id
                rows = np.flatnonzero(ids == incident.track_id) if ids is not None else []
                conf = float(b.detections.confidence[rows[0]]) if len(rows) else 0.0
            out.append(
                BoxAt(
                    frame_index=b.frame.index,
                    timestamp=b.frame.timestamp,
                    xyxy=tuple(float(v) for v in box),  # type: ignore[arg-type]
                    confidence=min(1.0, max(0.0, conf)),
                    rule_score=vote.score if vote is not None else 0.0,
                )
            )
        if not out:  # frames already left the buffer: keep at least the votes
            out = [
                BoxAt(
                    frame_index=v.frame_index,
                    timestamp=v.timestamp,
                    xyxy=v.xyxy,
                    confidence=v.detector_confidence,
                    rule_score=v.score,
                )
                for v in incident.votes
            ]
        return out

    def _thresholds(self, violation_type: str) -> dict[str, float]:
        section = getattr(self.config.rules, violation_type, None)
        if section is None:
            return {}
        return {
            "detection.min_confidence": self.config.detection.min_confidence,
            **section.recorded_thresholds(),
        }
