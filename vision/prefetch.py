"""Decode beside inference: a reader thread fills a small queue while the pipeline analyses the last frame.

OpenCV and FFmpeg release the GIL while decoding, so the next frame is grabbed/decoded on another core while
onnxruntime runs. `prepare` runs on the reader thread too, on every frame in order before it is queued: the
pipeline measures motion and letterboxes there (Frigate likewise does both in the camera's capture process,
not in the detector's). The queue is small (`depth`) so a slow pipeline applies back-pressure instead of
buffering seconds of video; a live stream still drops frames by wall clock in its own source (grab()
skipping).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator

from vision.frame import Frame
from vision.sources import FrameSource

_END = object()


class PrefetchSource(FrameSource):
    """Wraps any `FrameSource`; iterating yields the same frames, decoded one step ahead by a thread."""

    def __init__(
        self, inner: FrameSource, depth: int = 2, *, prepare: Callable[[Frame], None] | None = None
    ) -> None:
        super().__init__(inner.camera_id)
        self.inner = inner
        self.depth = depth
        self.prepare = prepare

    def __getattr__(self, name: str) -> object:  # fps, step, frame_count, path … of the wrapped source
        if name in ("inner", "prepare"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def health(self):  # noqa: ANN201 - the wrapped source's SourceHealth
        return self.inner.health

    @property
    def nominal_fps(self) -> float | None:
        return self.inner.nominal_fps

    def stop(self) -> None:
        super().stop()
        self.inner.stop()

    def __iter__(self) -> Iterator[Frame]:
        frames: queue.Queue[object] = queue.Queue(maxsize=self.depth)
        errors: list[BaseException] = []

        def read() -> None:
            try:
                for frame in self.inner:
                    if self.prepare is not None:
                        self.prepare(frame)
                    while not self._stop.is_set():
                        try:
                            frames.put(frame, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if self._stop.is_set():
                        break
            except BaseException as exc:  # re-raised in the consumer, where it can be handled
                errors.append(exc)
            finally:
                frames.put(_END)

        reader = threading.Thread(target=read, name=f"decode-{self.camera_id}", daemon=True)
        reader.start()
        try:
            while True:
                item = frames.get()
                if item is _END:
                    break
                yield item  # type: ignore[misc]
        finally:
            self._stop.set()
            self.inner.stop()
            while reader.is_alive():  # unblock a reader waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    frames.get(timeout=0.05)
            reader.join()
        if errors:
            raise errors[0]
