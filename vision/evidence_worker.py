"""Builds and emits evidence on its own thread, so a camera's frame loop never waits for an encoder or a sink.

The frame loop hands over finished incidents (`EvidenceJob`: the incident and references to its buffered
frames) with `submit`; the worker builds each one (redaction, snapshot, H.264 clip, hashes, signature) with
the camera's `EvidenceRecorder.build_job`, hands it to every sink, deletes the staged files, and keeps the
record for the frame loop to `collect`. Jobs run one at a time in hand-off order, so records, files and
incident ids are the same as building them in the frame loop.

The queue is bounded: when it is full, `submit` blocks (the camera slows down) instead of dropping a
violation. `drain` waits until every submitted job is built and emitted (end of stream, Ctrl-C, `flush`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from autofine.contract import ViolationRecord
from vision.evidence import EvidenceJob
from vision.sinks import ViolationSink

log = logging.getLogger(__name__)

Build = Callable[[EvidenceJob], tuple[ViolationRecord, Mapping[str, Path]]]
_STOP = object()


def emit_to_sinks(sinks: Sequence[ViolationSink], record: ViolationRecord, files: Mapping[str, Path]) -> None:
    """Every sink gets the record (one failing sink does not stop the others); then the staged files go."""
    for sink in sinks:
        try:
            sink.emit(record, files)
        except Exception:
            log.exception("sink %s failed for incident %s", type(sink).__name__, record.incident_id)
    for path in files.values():
        path.unlink(missing_ok=True)


class EvidenceWorker:
    """One thread per camera; `submit`, `collect` and `drain` are called from the frame loop."""

    def __init__(
        self, build: Build, sinks: Sequence[ViolationSink], *, max_queue: int, name: str = "evidence"
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self._build = build
        self.sinks = list(sinks)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._done: list[ViolationRecord] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._name = name
        self._thread: threading.Thread | None = None
        # read by the frame loop's stats; only this worker writes them
        self.build_s = 0.0
        self.emit_s = 0.0
        self.submitted = 0
        self.jobs = 0  # built and emitted
        self.full_waits = 0  # submits that found the queue full and waited

    def submit(self, job: EvidenceJob) -> None:
        """Queue one incident; blocks while the queue is full (never drops one)."""
        self._ensure_thread()
        self.submitted += 1
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.full_waits += 1
            self._queue.put(job)

    def collect(self) -> list[ViolationRecord]:
        """Records emitted since the last call, in hand-off order; raises a build error from the worker."""
        with self._lock:
            done, self._done = self._done, []
            errors, self._errors = self._errors, []
        if errors:
            raise errors[0]
        return done

    def drain(self) -> list[ViolationRecord]:
        """Wait until every submitted incident is built and emitted; return what `collect` would."""
        if self._thread is not None:
            self._queue.join()
        return self.collect()

    def close(self) -> None:
        """Drain, then end the thread. Safe to call twice."""
        thread = self._thread
        if thread is None:
            return
        self._queue.join()
        self._queue.put(_STOP)
        thread.join()
        self._thread = None

    @property
    def pending(self) -> int:
        """Incidents handed over and not yet emitted (approximate while the worker runs)."""
        return self._queue.unfinished_tasks

    def _ensure_thread(self) -> None:
        if self._thread is None:
            # daemon: a caller that never flushes must not hang the interpreter at exit (the frame loop's
            # `flush`/`close`/`run` always drain first)
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is _STOP:
                    return
                self._handle(job)  # type: ignore[arg-type]
            finally:
                self._queue.task_done()

    def _handle(self, job: EvidenceJob) -> None:
        t0 = time.perf_counter()
        try:
            record, files = self._build(job)
        except BaseException as exc:  # reported to the frame loop, which raises it as building inline did
            log.exception("building evidence for incident %s failed", job.incident.incident_id)
            with self._lock:
                self._errors.append(exc)
            return
        finally:
            self.build_s += time.perf_counter() - t0
        t1 = time.perf_counter()
        emit_to_sinks(self.sinks, record, files)
        self.emit_s += time.perf_counter() - t1
        self.jobs += 1
        with self._lock:
            self._done.append(record)
