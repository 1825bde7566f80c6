"""Bench sections on real components (no timing assertions: only counts and structure)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.bench import StageStat, camera_sweep, decode_frames, detector_stages, run_pipeline
from evaluation.synthetic import ColorBlobDetector, synthetic_clip

EVENTS = Path(__file__).resolve().parents[2] / "datasets" / "events"


@pytest.fixture(scope="module")
def synthetic_config():
    from vision.scene import load_camera_config

    config = load_camera_config(EVENTS / "cameras" / "synthetic_crossing.yaml")
    return config.model_copy(update={"source": str(synthetic_clip("crossing"))})


@pytest.mark.parametrize(
    ("ms", "expected"),
    [([], (0, 0.0, 0.0)), ([2.0], (1, 2.0, 2.0)), ([1.0, 2.0, 3.0, 10.0], (4, 4.0, 2.5))],
)
def test_stage_stat(ms, expected) -> None:
    s = StageStat.of("x", ms)
    assert (s.n, s.mean_ms, s.p50_ms) == expected


def test_decode_and_detector_stages_on_vtest(vtest_path, yolox_nano_path) -> None:
    from vision.detectors import load_detector

    frames, ms = decode_frames(vtest_path, 4)
    assert len(frames) == len(ms) == 4 and frames[3].index == 3
    stages = detector_stages(load_detector("yolox-nano", path=yolox_nano_path), frames)
    assert [s.name for s in stages] == ["preprocess", "inference", "postprocess"]
    assert all(s.n == 4 and s.mean_ms > 0 for s in stages)


def test_run_pipeline_times_every_stage_and_finds_the_jaywalkers(synthetic_config) -> None:
    run = run_pipeline(synthetic_config, ColorBlobDetector(), 70)
    assert run.frames == 70
    assert [s.name for s in run.stages] == [
        "decode",
        "motion",
        "detect",
        "track",
        "crops",
        "rules",
        "confirm",
        "evidence",
        "emit",
    ]
    assert all(s.n == 70 for s in run.stages)
    assert run.violations == {"jaywalking": 2}
    total = sum(s.mean_ms for s in run.stages)
    assert run.frame_ms.mean_ms == pytest.approx(total, rel=0.05, abs=0.5)


def test_camera_sweep_stops_at_the_first_count_that_falls_behind(synthetic_config) -> None:
    from vision.pipeline import CameraPipeline

    def make(i: int):
        return CameraPipeline(
            synthetic_config.model_copy(update={"camera_id": f"c{i}"}), ColorBlobDetector(), []
        )

    easy = camera_sweep(make, max_cameras=2, frames_per_camera=5, target_fps=0.01)
    assert [p.cameras for p in easy] == [1, 2] and all(p.sustained for p in easy)
    hard = camera_sweep(make, max_cameras=3, frames_per_camera=5, target_fps=1e9)
    assert [p.cameras for p in hard] == [1] and not hard[0].sustained and hard[0].lag_s > 0
    assert easy[0].lag_s == 0.0
    assert np.isfinite(hard[0].total_fps)


def test_batched_camera_sweep_serves_every_camera_from_one_worker(synthetic_config) -> None:
    from evaluation.bench import batched_camera_sweep

    points, batching = batched_camera_sweep(synthetic_config, ColorBlobDetector(), 4, 50.0, 3, 5, 0.01)
    assert [p.cameras for p in points] == [1, 2, 3] and all(p.sustained for p in points)
    # every analysed frame of every camera went through the worker (motion gating may skip some)
    assert 0 < batching["frames"] <= 5 * (1 + 2 + 3)
    assert batching["max_batch"] == 4 and 1.0 <= batching["mean_batch"] <= 4.0


@pytest.mark.slow
def test_run_bench_writes_json_markdown_and_png(tmp_path, yolox_nano_path) -> None:
    from evaluation.bench import run_bench
    from evaluation.bench_report import write_bench_outputs
    from vision.scene import load_camera_config

    config = load_camera_config(Path(__file__).resolve().parents[2] / "cameras" / "vtest.yaml")
    result = run_bench(
        config,
        model="yolox-nano",
        model_path=yolox_nano_path,
        frames=8,
        max_cameras=1,
        camera_frames=5,
        baseline=False,
        log=lambda line: None,
    )
    assert result.frames == 8 and result.pipeline.frames == 8 and len(result.cameras) == 1
    assert set(result.summary()) >= {"end_to_end_fps", "overhead_share_of_inference", "cameras_sustained"}
    files = write_bench_outputs(result, tmp_path)
    assert sorted(p.suffix for p in files) == [".json", ".md", ".png"]
    assert "## Pipeline stages" in files[1].read_text()
