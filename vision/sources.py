"""Frames from video files, image folders, RTSP/HTTP streams and webcams.

Every source yields `Frame`s (camera id, source frame index, UTC timestamp) at the analysis rate: frames in
between are `grab()`-bed (demuxed, not converted) and only analysed ones are `retrieve()`-d.
- Files and folders are finite and deterministic: timestamp = `start_time` + index / fps.
- Streams and webcams use the real clock, and reconnect with exponential backoff after EOF, a read timeout
  or a garbage frame; `health` tells their state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from autofine.errors import UserError
from vision.frame import Frame
from vision.scene import CameraConfig, StreamConfig

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
SourceState = Literal["idle", "connecting", "streaming", "reconnecting", "ended", "failed", "stopped"]


@dataclass(frozen=True)
class SourceHealth:
    state: SourceState
    frames_read: int  # frames decoded or grabbed from the source
    frames_yielded: int  # frames handed to the pipeline
    reconnects: int
    last_frame_at: datetime | None
    fps: float  # measured rate of frames read over the recent past
    last_error: str | None = None


class FrameSource:
    """Iterate to get frames; `stop()` from another thread ends the iteration cleanly."""

    camera_id: str

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self._stop = threading.Event()
        self._health = SourceHealth("idle", 0, 0, 0, None, 0.0)
        self._rate_t0: float | None = None
        self._rate_n = 0

    @property
    def health(self) -> SourceHealth:
        return self._health

    @property
    def nominal_fps(self) -> float | None:
        return None

    def stop(self) -> None:
        self._stop.set()

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def _set(self, **changes: object) -> None:
        self._health = replace(self._health, **changes)  # type: ignore[arg-type]

    def _count_read(self) -> None:
        now = time.monotonic()
        if self._rate_t0 is None or now - self._rate_t0 > 5.0:
            self._rate_t0, self._rate_n = now, 0
        self._rate_n += 1
        elapsed = now - self._rate_t0
        fps = self._rate_n / elapsed if elapsed > 0.2 else self._health.fps
        self._set(frames_read=self._health.frames_read + 1, fps=fps)


def _analysis_step(stream_fps: float, analysis_fps: float | None) -> int:
    if not analysis_fps or analysis_fps >= stream_fps:
        return 1
    return max(1, round(stream_fps / analysis_fps))


class VideoFileSource(FrameSource):
    """A video file; ends cleanly at its last frame. Analyses every `step`-th frame."""

    def __init__(
        self, path: str | Path, camera_id: str, *, start_time: datetime, analysis_fps: float | None = None
    ) -> None:
        super().__init__(camera_id)
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"video file {self.path} not found; check the camera's 'source'")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise UserError(f"cannot open video {self.path}; is it a video file OpenCV can decode?")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        self.frame_size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()
        self.fps = fps if fps and 0 < fps < 1000 else 25.0
        self.step = _analysis_step(self.fps, analysis_fps)
        self.start_time = start_time

    @property
    def nominal_fps(self) -> float:
        return self.fps / self.step

    def timestamp(self, index: int) -> datetime:
        return self.start_time + timedelta(seconds=index / self.fps)

    def __iter__(self) -> Iterator[Frame]:
        cap = cv2.VideoCapture(str(self.path))
        self._set(state="streaming")
        index = -1
        try:
            while not self._stop.is_set():
                if not cap.grab():
                    break
                index += 1
                self._count_read()
                if index % self.step:
                    continue
                ok, image = cap.retrieve()
                if not ok or image is None:
                    break
                ts = self.timestamp(index)
                self._set(frames_yielded=self._health.frames_yielded + 1, last_frame_at=ts)
                yield Frame(self.camera_id, index, ts, image)
        finally:
            cap.release()
            self._set(state="stopped" if self._stop.is_set() else "ended")


class ImageFolderSource(FrameSource):
    """Images of a folder in name order, as if filmed at `fps` (default 1)."""

    def __init__(self, folder: str | Path, camera_id: str, *, start_time: datetime, fps: float = 1.0) -> None:
        super().__init__(camera_id)
        self.folder = Path(folder)
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise UserError(f"image folder {self.folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.fps = fps
        self.start_time = start_time

    @property
    def nominal_fps(self) -> float:
        return self.fps

    def __iter__(self) -> Iterator[Frame]:
        self._set(state="streaming")
        for index, path in enumerate(self.files):
            if self._stop.is_set():
                break
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            self._count_read()
            if image is None:
                self._set(last_error=f"cannot decode {path.name}")
                continue
            ts = self.start_time + timedelta(seconds=index / self.fps)
            self._set(frames_yielded=self._health.frames_yielded + 1, last_frame_at=ts)
            yield Frame(self.camera_id, index, ts, image)
        self._set(state="stopped" if self._stop.is_set() else "ended")


class StreamSource(FrameSource):
    """An RTSP/HTTP stream or a webcam. Never ends by itself unless `max_reconnects` is reached.

    Frames are analysed by wall-clock: a frame is retrieved when at least 1/analysis_fps has passed since the
    last analysed one; the rest are only grabbed. The frame index counts every frame read since start.
    """

    def __init__(
        self,
        target: str | int,
        camera_id: str,
        *,
        analysis_fps: float | None = None,
        settings: StreamConfig | None = None,
    ) -> None:
        super().__init__(camera_id)
        self.target = target
        self.analysis_fps = analysis_fps
        self.settings = settings or StreamConfig()

    @property
    def nominal_fps(self) -> float | None:
        return self.analysis_fps

    def _open(self) -> cv2.VideoCapture:
        timeout_ms = int(self.settings.read_timeout_s * 1000)
        if isinstance(self.target, int):
            return cv2.VideoCapture(self.target)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        return cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def __iter__(self) -> Iterator[Frame]:
        delay = self.settings.reconnect_initial_s
        index = -1
        last_analysed = -float("inf")
        first_attempt = True
        while not self._stop.is_set():
            self._set(state="connecting" if first_attempt else "reconnecting")
            cap = self._open()
            good_frames = 0
            try:
                if cap.isOpened():
                    while not self._stop.is_set():
                        if not cap.grab():
                            self._set(last_error="end of stream or read timeout")
                            break
                        index += 1
                        self._count_read()
                        now = time.monotonic()
                        if self.analysis_fps and now - last_analysed < 1.0 / self.analysis_fps:
                            continue
                        ok, image = cap.retrieve()
                        if not ok or image is None or image.ndim != 3 or image.size == 0:
                            self._set(last_error="garbage frame")
                            break
                        last_analysed = now
                        good_frames += 1
                        if good_frames == 1:
                            self._set(state="streaming")
                            delay = self.settings.reconnect_initial_s  # a working connection resets backoff
                        ts = datetime.now(UTC)
                        self._set(frames_yielded=self._health.frames_yielded + 1, last_frame_at=ts)
                        yield Frame(self.camera_id, index, ts, np.ascontiguousarray(image))
                else:
                    self._set(last_error=f"cannot open {self.target}")
            finally:
                cap.release()
            if self._stop.is_set():
                break
            first_attempt = False
            max_reconnects = self.settings.max_reconnects
            if max_reconnects is not None and self._health.reconnects >= max_reconnects:
                self._set(state="failed")
                return
            self._set(state="reconnecting", reconnects=self._health.reconnects + 1)
            self._wait(delay)
            delay = min(delay * 2, self.settings.reconnect_max_s)
        self._set(state="stopped")


def resolve_source(source: str) -> str | int:
    """`sample:<name>` → cached sample path; `webcam:N` / `N` → webcam index; anything else unchanged."""
    if source.startswith("sample:"):
        from vision.samples import fetch_sample

        return str(fetch_sample(source.removeprefix("sample:")))
    if source.startswith("webcam:"):
        source = source.removeprefix("webcam:")
        if not source.isdigit():
            raise UserError(f"webcam source must be webcam:<index>, e.g. webcam:0, got {source!r}")
    if source.isdigit():
        return int(source)
    return source


def open_source(config: CameraConfig) -> FrameSource:
    """The source a camera config names."""
    target = resolve_source(config.source)
    if isinstance(target, int) or "://" in target:
        return StreamSource(
            target, config.camera_id, analysis_fps=config.analysis_fps, settings=config.stream
        )
    path = Path(target)
    if path.is_dir():
        return ImageFolderSource(
            path, config.camera_id, start_time=config.start_time, fps=config.analysis_fps or 1.0
        )
    if not path.exists():
        raise UserError(
            f"source {target} not found; use a video file, an image folder, rtsp://, http(s)://, webcam:N "
            "or sample:vtest.avi"
        )
    return VideoFileSource(
        path, config.camera_id, start_time=config.start_time, analysis_fps=config.analysis_fps
    )
