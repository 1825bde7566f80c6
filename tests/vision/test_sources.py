"""Sources: file timestamps and analysis-rate skipping, image folders, a stream that dies and comes back."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from autofine.errors import UserError
from vision.scene import CameraConfig, StreamConfig
from vision.sources import ImageFolderSource, StreamSource, VideoFileSource, open_source, resolve_source

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SERVER = Path(__file__).with_name("mjpeg_server.py")


def test_video_file_timestamps_and_skipping(vtest_path: Path) -> None:
    source = VideoFileSource(vtest_path, "cam", start_time=START, analysis_fps=5)
    assert source.fps == 10 and source.step == 2 and source.nominal_fps == 5
    frames = list(source)
    assert len(frames) == 398  # 795 frames, every second one
    assert [f.index for f in frames[:4]] == [0, 2, 4, 6]
    assert frames[3].timestamp == START + timedelta(seconds=0.6)
    assert frames[-1].index == 794 and frames[-1].timestamp == START + timedelta(seconds=79.4)
    assert frames[0].image.shape == (576, 768, 3)
    health = source.health
    assert health.state == "ended" and health.frames_read == 795 and health.frames_yielded == 398


def test_video_file_every_frame_and_stop(vtest_path: Path) -> None:
    source = VideoFileSource(vtest_path, "cam", start_time=START, analysis_fps=None)
    got = []
    for frame in source:
        got.append(frame.index)
        if len(got) == 5:
            source.stop()
    assert got == [0, 1, 2, 3, 4]
    assert source.health.state == "stopped"


def test_image_folder(tmp_path: Path) -> None:
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"img_{i}.png"), np.full((20, 30, 3), i * 50, dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    frames = list(ImageFolderSource(tmp_path, "cam", start_time=START, fps=2))
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 50, 100]
    assert [f.timestamp for f in frames] == [
        START,
        START + timedelta(seconds=0.5),
        START + timedelta(seconds=1),
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/no/such/video.mp4", "not found"),
        ("webcam:x", "webcam:<index>"),
        ("sample:nope.avi", "unknown sample"),
    ],
)
def test_bad_sources(source: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        open_source(CameraConfig(source=source))


def test_resolve_webcam_and_urls() -> None:
    assert resolve_source("webcam:1") == 1
    assert resolve_source("0") == 0
    assert resolve_source("rtsp://cam/stream") == "rtsp://cam/stream"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), str(port), *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _wait_for(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_stream_reconnects_after_the_camera_dies_and_comes_back() -> None:
    port = _free_port()
    server = _start_server(port)
    settings = StreamConfig(reconnect_initial_s=0.2, reconnect_max_s=1.0, read_timeout_s=2.0)
    source = StreamSource(f"http://127.0.0.1:{port}/", "cam", analysis_fps=10, settings=settings)
    received: list = []

    def read() -> None:
        for frame in source:
            received.append((frame, source.health.reconnects))

    reader = threading.Thread(target=read, daemon=True)
    try:
        reader.start()
        assert _wait_for(lambda: len(received) >= 5, 15), "no frames from the live stream"
        assert source.health.state == "streaming" and source.health.reconnects == 0
        server.kill()
        server.wait()
        assert _wait_for(lambda: source.health.reconnects >= 1, 10), (
            "the source did not notice the stream died"
        )
        before = len(received)
        time.sleep(1.0)  # camera down for a while: reconnect attempts fail and back off
        assert source.health.state in ("reconnecting", "connecting")
        server = _start_server(port)
        assert _wait_for(lambda: len(received) >= before + 5, 15), "no frames after the camera came back"
        assert source.health.state == "streaming"
        after = [r for r in received[before:] if r[1] >= 1]
        assert len(after) >= 5
        assert after[-1][0].index > received[before - 1][0].index  # index keeps counting across reconnects
        assert source.health.last_frame_at is not None and source.health.fps > 0
    finally:
        source.stop()
        reader.join(timeout=15)
        server.kill()
        server.wait()
    assert not reader.is_alive()
    assert source.health.state == "stopped"


def test_stream_gives_up_after_max_reconnects() -> None:
    port = _free_port()  # nothing listens there
    settings = StreamConfig(reconnect_initial_s=0.05, reconnect_max_s=0.1, max_reconnects=2, read_timeout_s=1)
    source = StreamSource(f"http://127.0.0.1:{port}/", "cam", settings=settings)
    assert list(source) == []
    assert source.health.state == "failed" and source.health.reconnects == 2
    assert source.health.last_error and "cannot open" in source.health.last_error


def test_a_hung_stream_hits_the_read_timeout_and_reconnects() -> None:
    port = _free_port()
    server = _start_server(port, "20", "stall")  # 20 frames per connection, then silence on an open socket
    try:
        settings = StreamConfig(reconnect_initial_s=0.1, max_reconnects=1, read_timeout_s=2)
        source = StreamSource(f"http://127.0.0.1:{port}/", "cam", settings=settings)
        frames = list(source)
    finally:
        server.kill()
        server.wait()
    assert len(frames) == 40  # 20 before the hang, 20 after reconnecting, then it hangs again and gives up
    assert [f.index for f in frames] == list(range(40))
    assert source.health.reconnects == 1 and source.health.state == "failed"
    assert source.health.last_error == "end of stream or read timeout"
