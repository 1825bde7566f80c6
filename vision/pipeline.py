"""One camera's pipeline: the only place that knows the stage order.

    source → detector → tracker → rules → confirmation → evidence → sinks

`CameraPipeline` is a plain object: `process(frame)` for one frame (a for loop, a thread, a Ray actor all
call it the same way), `run()` to drain its source, `flush()` to finish pending evidence at the end.

Evidence (redaction, snapshot, H.264 clip, hashes, signature) and the sinks run on the pipeline's own
evidence thread (vision/evidence_worker.py): the frame loop only cuts a finished incident's frames out of
the ring buffer and hands them over, so `process` returns the violations the worker has emitted since the
previous call, and `flush()` waits for all of them. `evidence_queue=0` builds them in the frame loop instead.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from autofine.contract import ModelInfo, ViolationRecord
from autofine.errors import UserError
from vision.confirm import Confirmer
from vision.detections import Detections
from vision.detectors.base import Detector
from vision.evidence import EvidenceRecorder
from vision.evidence_worker import EvidenceWorker, emit_to_sinks
from vision.frame import Frame
from vision.motion import GateDecision, MotionGate, detect_in
from vision.prefetch import PrefetchSource
from vision.rules import build_rules
from vision.rules.base import Observation, Rule
from vision.scene import CameraConfig, PedestrianSignal, Scene, zones_outside_frame
from vision.sinks import ViolationSink
from vision.smoking_stage import SmokingStage, load_cigarette_detector
from vision.sources import FrameSource, open_source
from vision.tracking import Tracker, TrackerSettings

log = logging.getLogger(__name__)
STAGES = ("decode", "motion", "detect", "track", "crops", "rules", "confirm", "evidence", "emit")


@dataclass
class PipelineStats:
    """Counts and per-stage wall time (seconds, summed over frames)."""

    frames: int = 0
    candidates: int = 0
    incidents: int = 0
    suppressed: int = 0
    detector_runs: int = 0  # frames the detector ran on (fewer than `frames` when motion gating skips some)
    cigarette_crops: int = 0  # upper-body crops the two-stage smoking step ran the cigarette model on
    violations: Counter[str] = field(default_factory=Counter)
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    wall_s: float = 0.0
    # time on the evidence thread, beside the frame loop (not in stage_s): building, and the sinks
    background_s: dict[str, float] = field(default_factory=lambda: {"evidence": 0.0, "emit": 0.0})
    evidence_queue_waits: int = 0  # hand-offs that found the evidence queue full and waited

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def per_frame_ms(self) -> dict[str, float]:
        n = max(self.frames, 1)
        return {k: 1000 * v / n for k, v in self.stage_s.items()}

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary (run.json, benchmarks)."""
        return {
            "frames": self.frames,
            "candidates": self.candidates,
            "incidents": self.incidents,
            "suppressed": self.suppressed,
            "detector_runs": self.detector_runs,
            "cigarette_crops": self.cigarette_crops,
            "violations": dict(self.violations),
            "wall_s": round(self.wall_s, 3),
            "fps": round(self.fps, 2),
            "ms_per_frame": {k: round(v, 2) for k, v in self.per_frame_ms().items()},
            "background_ms_per_frame": {
                k: round(1000 * v / max(self.frames, 1), 2) for k, v in self.background_s.items()
            },
            "evidence_queue_waits": self.evidence_queue_waits,
        }

    @contextmanager
    def timed(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stage_s[stage] += time.perf_counter() - t0


class CameraPipeline:
    def __init__(
        self,
        config: CameraConfig,
        detector: Detector,
        sinks: Sequence[ViolationSink],
        *,
        source: FrameSource | None = None,
        rules: Sequence[Rule] | None = None,
        model_info: ModelInfo | None = None,
        work_dir: str | Path | None = None,
        evidence_queue: int = 4,
        cigarette_detector: Detector | None = None,
    ) -> None:
        """`evidence_queue`: finished incidents that may wait for the evidence thread before the frame loop
        blocks (each holds references to its clip's frames); 0 builds evidence in the frame loop."""
        self.config = config
        self.detector = detector
        self.sinks = list(sinks)
        self._source = source
        self.scene = Scene(config.zones)
        self.rules = list(rules) if rules is not None else build_rules(config, self.scene)
        self.signal = PedestrianSignal(config.signal) if config.signal else None
        info = model_info or getattr(detector, "model_info", None)
        if info is None:
            raise ValueError("detector has no model_info; pass model_info=")
        self.model_info: ModelInfo = info
        self.stats = PipelineStats()
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="autofine-evidence-"))
        self._fps = self._analysis_fps()
        self.tracker = Tracker(
            TrackerSettings(
                fps=self._fps,
                lost_track_s=config.tracker.lost_track_s,
                activation_confidence=config.tracker.activation_confidence,
                high_confidence=config.tracker.high_confidence,
                min_iou=config.tracker.min_iou,
                history_s=config.tracker.history_s,
                person_class=config.detection.person_class,
            )
        )
        confirm_configs = {
            name: getattr(config.rules, name).confirm for name in type(config.rules).model_fields
        }
        self.confirmer = Confirmer(config.camera_id, confirm_configs)
        self.recorder = EvidenceRecorder(config, self.scene, self.model_info, self.work_dir, fps=self._fps)
        self.evidence_worker = (
            EvidenceWorker(
                self.recorder.build_job,
                self.sinks,
                max_queue=evidence_queue,
                name=f"evidence-{config.camera_id}",
            )
            if evidence_queue > 0
            else None
        )
        self.gate = MotionGate(config.motion) if config.motion.enabled else None
        self._discard_ahead = getattr(detector, "discard_ahead", None)
        self.smoking = self._smoking_stage(cigarette_detector)
        self._checked_size = False
        self._stop = threading.Event()

    @property
    def source(self) -> FrameSource:
        if self._source is None:
            self._source = open_source(self.config)
        return self._source

    def reader(self) -> FrameSource:
        """The source as `run` reads it: with `decode_ahead`, a thread decodes ahead and prepares each frame
        (`_prepare_ahead`) beside inference."""
        if not self.config.detector.decode_ahead:
            return self.source
        return PrefetchSource(self.source, self.config.detector.decode_ahead, prepare=self._prepare_ahead)

    def _prepare_ahead(self, frame: Frame) -> None:
        """On the decode-ahead thread: measure motion for the gate and, when the detector will likely run on
        the whole frame (motion, no crops), letterbox it for the detector — as Frigate's camera process does
        before its detector process. A frame the gate then skips is discarded in `process`."""
        moving = self.gate.measure(frame).has_motion if self.gate is not None else True
        prepare = getattr(self.detector, "prepare_ahead", None)
        if moving and prepare is not None and not self.config.motion.crop:
            prepare(frame.image)

    def _analysis_fps(self) -> float:
        nominal = self._source.nominal_fps if self._source is not None else None
        return float(nominal or self.config.analysis_fps or 5.0)

    # ---------------------------------------------------------------- one frame

    def process(self, frame: Frame) -> list[ViolationRecord]:
        """Run every stage on one analysed frame; return the violations emitted (post-roll complete)."""
        if not self._checked_size:
            self._check_frame_size(frame)
        stats = self.stats
        stats.frames += 1
        with stats.timed("motion"):
            decision = self._gate(frame)
        with stats.timed("detect"):
            if decision.run:
                stats.detector_runs += 1
                detections = detect_in(self.detector, frame.image, decision.crop)
            else:
                detections = Detections.empty()
            if self._discard_ahead is not None:
                self._discard_ahead(frame.image)  # prepared ahead but skipped or cropped
            if len(detections):
                detections = detections[detections.confidence >= self.config.detection.min_confidence]
        with stats.timed("track"):
            detections, tracks = self.tracker.update(frame.index, frame.timestamp, detections)
        with stats.timed("crops"):
            if self.smoking is not None:
                detections = self.smoking.add_cigarettes(stats.frames - 1, frame.image, detections)
                stats.cigarette_crops = self.smoking.crops
        with stats.timed("rules"):
            signal_red = self.signal.is_red(frame.timestamp, frame.image) if self.signal else None
            observation = Observation(
                frame=frame, detections=detections, tracks=tracks, signal_red=signal_red
            )
            candidates = [c for rule in self.rules for c in rule.evaluate(observation)]
            stats.candidates += len(candidates)
        with stats.timed("confirm"):
            live = {tid: t.last.xyxy for tid, t in tracks.items() if t.last.frame_index == frame.index}
            incidents = self.confirmer.update(frame.index, frame.timestamp, candidates, live)
            stats.incidents += len(incidents)
            stats.suppressed = self.confirmer.suppressed
        with stats.timed("evidence"):
            self.recorder.add_frame(frame, detections)
            for incident in incidents:
                self.recorder.add_incident(incident)
            if self.evidence_worker is None:
                finished = self.recorder.ready(frame.timestamp)
            else:
                for job in self.recorder.take_ready(frame.timestamp):
                    self.evidence_worker.submit(job)
        if self.evidence_worker is None:
            return self._emit(finished)
        with stats.timed("emit"):
            return self._collected(self.evidence_worker.collect())

    def _smoking_stage(self, detector: Detector | None) -> SmokingStage | None:
        """The two-stage cigarette step, when the smoking rule is on, configured and has a zone to watch."""
        smoking = self.config.rules.smoking
        two_stage = smoking.two_stage
        if not smoking.enabled or two_stage is None or not self.scene.has("no_smoking"):
            return None
        if detector is None:
            runtime = self.config.detector
            detector = load_cigarette_detector(
                two_stage, providers=runtime.providers or None, threads=runtime.threads
            )
        return SmokingStage(detector, two_stage, self.scene, self.config.detection.person_class)

    def _gate(self, frame: Frame) -> GateDecision:
        if self.gate is None:
            return GateDecision(True, "always")
        live = [t.last.xyxy for t in self.tracker.tracks.values()]
        return self.gate.decide(frame.image, live, frame_index=frame.index)

    def flush(self) -> list[ViolationRecord]:
        """Build and emit every pending incident with the frames buffered so far (end of stream, Ctrl-C)."""
        if self.evidence_worker is None:
            with self.stats.timed("evidence"):
                finished = self.recorder.flush()
            return self._emit(finished)
        with self.stats.timed("evidence"):  # waits for the evidence thread: nothing handed over is lost
            for job in self.recorder.take_all():
                self.evidence_worker.submit(job)
            records = self.evidence_worker.drain()
        return self._collected(records)

    def _emit(self, finished: list[tuple[ViolationRecord, dict[str, Path]]]) -> list[ViolationRecord]:
        with self.stats.timed("emit"):
            for record, files in finished:
                emit_to_sinks(self.sinks, record, files)
            return self._collected([record for record, _ in finished])

    def _collected(self, records: list[ViolationRecord]) -> list[ViolationRecord]:
        """Count emitted records (in the frame loop's thread, the only writer of `stats`)."""
        for record in records:
            self.stats.violations[record.violation_type] += 1
        worker = self.evidence_worker
        if worker is not None:
            self.stats.background_s["evidence"] = worker.build_s
            self.stats.background_s["emit"] = worker.emit_s
            self.stats.evidence_queue_waits = worker.full_waits
        return records

    def _check_frame_size(self, frame: Frame) -> None:
        self._checked_size = True
        self.confirmer.frame_size = (frame.width, frame.height)
        problem = zones_outside_frame(self.config.zones, frame.width, frame.height)
        if problem:
            raise UserError(f"camera {self.config.camera_id}: {problem}")
        if self.config.frame_size and tuple(self.config.frame_size) != (frame.width, frame.height):
            raise UserError(
                f"camera {self.config.camera_id}: frames are {frame.width}x{frame.height}, config says "
                f"{self.config.frame_size[0]}x{self.config.frame_size[1]}; "
                "fix frame_size and redraw the zones"
            )

    # ---------------------------------------------------------------- whole source

    def stop(self) -> None:
        """Ask `run()` to stop after the current frame (thread-safe)."""
        self._stop.set()
        if self._source is not None:
            self._source.stop()

    def run(
        self,
        *,
        max_frames: int | None = None,
        on_frame: Callable[[Frame, list[ViolationRecord]], None] | None = None,
    ) -> PipelineStats:
        """Process the source until it ends, `max_frames` analysed frames, `stop()` or Ctrl-C; then flush."""
        t0 = time.perf_counter()
        wall_before = self.stats.wall_s
        iterator = iter(self.reader())
        try:
            while not self._stop.is_set():
                if max_frames is not None and self.stats.frames >= max_frames:
                    break
                with self.stats.timed("decode"):
                    frame = next(iterator, None)
                if frame is None:
                    break
                records = self.process(frame)
                self.stats.wall_s = wall_before + time.perf_counter() - t0
                if on_frame is not None:
                    on_frame(frame, records)
        finally:
            self.source.stop()
            try:
                self.flush()
            finally:
                self.stats.wall_s = wall_before + time.perf_counter() - t0
                self.close()
        return self.stats

    def close(self) -> None:
        """Wait for evidence already handed over (never cut short), end the evidence thread, remove the
        temporary work dir. Incidents still waiting for their post-roll need `flush()` first (`run` does)."""
        if self.evidence_worker is not None:
            self._collected(self.evidence_worker.drain())
            self.evidence_worker.close()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
