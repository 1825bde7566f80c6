"""Decoding ahead on a reader thread yields exactly the frames of the wrapped source, and stops cleanly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vision.prefetch import PrefetchSource
from vision.sources import VideoFileSource

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_prefetched_frames_equal_the_source_frames(vtest_path: Path):
    plain = list(VideoFileSource(vtest_path, "c", start_time=START, analysis_fps=2))
    ahead = list(PrefetchSource(VideoFileSource(vtest_path, "c", start_time=START, analysis_fps=2), depth=2))
    assert len(plain) == len(ahead) >= 150
    assert [f.index for f in plain] == [f.index for f in ahead]
    assert [f.timestamp for f in plain] == [f.timestamp for f in ahead]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(plain[::40], ahead[::40], strict=True))


def test_stopping_early_ends_the_reader_thread(vtest_path: Path):
    source = PrefetchSource(VideoFileSource(vtest_path, "c", start_time=START), depth=1)
    before = threading.active_count()
    taken = []
    for frame in source:
        taken.append(frame.index)
        if len(taken) == 3:
            break
    assert taken == [0, 1, 2]
    assert threading.active_count() == before
    assert source.health.state == "stopped" and source.nominal_fps == 10.0
