"""Decoding ahead on a reader thread yields exactly the frames of the wrapped source, and stops cleanly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vision.frame import Frame
from vision.motion import MotionConfig, MotionGate
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


def test_motion_measured_on_the_reader_thread_gives_the_gate_the_same_decisions(vtest_path: Path):
    """The pipeline measures motion ahead on the decode thread (`MotionGate.measure`): the decisions must be
    those of measuring in the frame loop, frame for frame."""
    config = MotionConfig(warmup_frames=2, hold_frames=1)
    inline, ahead = MotionGate(config), MotionGate(config)
    expected = [
        (f.index, inline.decide(f.image))
        for f in VideoFileSource(vtest_path, "c", start_time=START, analysis_fps=2)
    ]
    measured: list[int] = []

    def measure(frame: Frame) -> None:
        assert threading.current_thread() is not threading.main_thread()
        measured.append(frame.index)
        ahead.measure(frame)

    source = PrefetchSource(
        VideoFileSource(vtest_path, "c", start_time=START, analysis_fps=2), depth=2, prepare=measure
    )
    got = [(f.index, ahead.decide(f.image, frame_index=f.index)) for f in source]
    assert len(got) == len(expected) >= 150
    assert measured == [i for i, _ in got]
    assert got == expected
    assert not ahead._measured  # every measured frame was used
    assert {d.reason for _, d in got} >= {"warmup", "motion"}


def test_the_pipeline_finds_the_same_violations_reading_ahead_or_in_series(
    tmp_path: Path, vtest_path: Path, yolox_nano_path: Path
):
    """With `decode_ahead` the reader thread also measures motion and letterboxes; the records must be those
    of decoding, measuring and letterboxing in the frame loop."""
    from vision.detectors import load_detector
    from vision.pipeline import CameraPipeline
    from vision.scene import load_camera_config
    from vision.sinks import DirectorySink, read_violations

    base = load_camera_config(Path(__file__).resolve().parents[2] / "cameras" / "vtest.yaml")
    detector = load_detector("yolox-nano", path=yolox_nano_path)
    found = {}
    for depth in (0, 2):
        reading = base.detector.model_copy(update={"decode_ahead": depth})
        config = base.model_copy(update={"source": str(vtest_path), "detector": reading})
        out = tmp_path / f"ahead{depth}"
        stats = CameraPipeline(config, detector, [DirectorySink(out)]).run(max_frames=120)
        assert stats.frames == 120
        found[depth] = [
            (r.violation_type, r.track_id, r.onset, [b.xyxy for b in r.boxes])
            for r in read_violations(out / "violations.jsonl")
        ]
    assert len(found[0]) >= 3
    assert found[2] == found[0]
    assert not detector._ahead  # frames read ahead past the last analysed one were freed, and their entries
