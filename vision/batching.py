"""One inference worker for N cameras: frames from every camera are batched into one model run.

Each camera's pipeline gets a `BatchClient` — a `Detector` like any other, so `CameraPipeline` does not know
it is shared. `client.detect(image)` queues the frame and waits for its result. The worker thread takes the
first waiting frame, then keeps collecting until `max_batch` frames are waiting or `max_wait_ms` has passed
since that first frame, and runs them as one batch (`Detector.detect_batch`). So a camera waits at most
`max_wait_ms` plus one batch's inference for its answer (the bound is reported in `stats()`), and a model
with a dynamic batch axis runs full when many cameras are busy.

A model with a fixed batch of 1 still works (the runner splits the batch), it just gains nothing.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vision.detections import Detections
from vision.detectors.base import Detector


class BatchingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_batch: int = Field(default=4, ge=1, le=256, description="Most frames in one model run.")
    max_wait_ms: float = Field(
        default=20.0,
        ge=0,
        le=5000,
        description="How long the first waiting frame may wait for others before the batch runs anyway.",
    )


@dataclass
class _Request:
    image: np.ndarray
    camera_id: str
    queued_at: float
    future: Future[Detections]


@dataclass(frozen=True)
class BatchStats:
    batches: int
    frames: int
    mean_batch: float
    latency_ms_p50: float  # queued → result, per frame
    latency_ms_p95: float
    latency_ms_max: float
    inference_ms_mean: float  # per batch


class InferenceWorker:
    """A thread that owns one detector and serves every camera's frames in batches."""

    def __init__(self, detector: Detector, config: BatchingConfig | None = None) -> None:
        self.detector = detector
        self.config = config or BatchingConfig()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._latencies: list[float] = []
        self._batch_sizes: list[int] = []
        self._inference_s: list[float] = []
        self._thread = threading.Thread(target=self._loop, name="autofine-inference", daemon=True)
        self._closed = False
        self._thread.start()

    def client(self, camera_id: str) -> BatchClient:
        return BatchClient(self, camera_id)

    def submit(self, image: np.ndarray, camera_id: str = "") -> Future[Detections]:
        if self._closed:
            raise RuntimeError("inference worker is closed")
        future: Future[Detections] = Future()
        self._queue.put(_Request(image, camera_id, time.perf_counter(), future))
        return future

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def __enter__(self) -> InferenceWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        batch = [first]
        deadline = first.queued_at + self.config.max_wait_ms / 1000
        while len(batch) < self.config.max_batch:
            remaining = deadline - time.perf_counter()
            try:
                item = (
                    self._queue.get(timeout=max(remaining, 0.0))
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch, stop = self._collect(first)
            t0 = time.perf_counter()
            try:
                results = self.detector.detect_batch([r.image for r in batch])
            except BaseException as exc:  # hand the error to every waiting camera, keep serving
                for r in batch:
                    r.future.set_exception(exc)
                continue
            done = time.perf_counter()
            self._inference_s.append(done - t0)
            self._batch_sizes.append(len(batch))
            for r, found in zip(batch, results, strict=True):
                self._latencies.append(done - r.queued_at)
                r.future.set_result(found)

    def stats(self) -> BatchStats:
        lat = np.asarray(self._latencies or [0.0]) * 1000
        sizes = self._batch_sizes or [0]
        return BatchStats(
            batches=len(self._batch_sizes),
            frames=int(sum(self._batch_sizes)),
            mean_batch=float(np.mean(sizes)),
            latency_ms_p50=float(np.percentile(lat, 50)),
            latency_ms_p95=float(np.percentile(lat, 95)),
            latency_ms_max=float(lat.max()),
            inference_ms_mean=float(np.mean(self._inference_s or [0.0]) * 1000),
        )


class BatchClient(Detector):
    """One camera's view of a shared `InferenceWorker`: a `Detector` whose frames are batched with others."""

    def __init__(self, worker: InferenceWorker, camera_id: str) -> None:
        self.worker = worker
        self.camera_id = camera_id
        inner = worker.detector
        self.names = inner.names
        self.model_info = inner.model_info
        self.family = inner.family
        self.origin = inner.origin

    def __getattr__(self, name: str) -> object:  # runner, providers, input_size … of the shared detector
        if name == "worker":
            raise AttributeError(name)
        return getattr(self.worker.detector, name)

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        futures = [self.worker.submit(image, self.camera_id) for image in images]
        return [f.result() for f in futures]
