"""Motion gating: the motion detector on made-up frames, the gate's decisions, crops, and the real clips
giving the same violations with gating on and off."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from autofine.contract import ViolationRecord
from vision.detections import box_iou
from vision.detectors import load_detector
from vision.motion import MotionConfig, MotionDetector, MotionGate, crop_region, detect_in
from vision.pipeline import CameraPipeline, PipelineStats
from vision.scene import load_camera_config
from vision.sinks import DirectorySink, read_violations

REPO = Path(__file__).resolve().parents[2]


def _ground(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(90, 110, size=(240, 320, 3), dtype=np.uint8)
    return cv2.GaussianBlur(base, (5, 5), 0)


def _with_square(image: np.ndarray, x: int, y: int, size: int = 30) -> np.ndarray:
    out = image.copy()
    out[y : y + size, x : x + size] = 230
    return out


def test_a_still_scene_has_no_motion_and_a_moving_square_is_boxed():
    detector = MotionDetector(MotionConfig(frame_height=120))
    ground = _ground()
    assert detector.detect(ground).reset  # first frame: learns the background
    still = [detector.detect(ground) for _ in range(5)]
    assert not any(r.has_motion for r in still)
    result = detector.detect(_with_square(ground, 200, 100))
    assert len(result.boxes) == 1
    x1, y1, x2, y2 = result.boxes[0]
    # the box is found on a 2x smaller grey copy and dilated: it covers the square, a few pixels wider
    assert x1 <= 200 <= 230 <= x2 and y1 <= 100 <= 130 <= y2
    assert x2 - x1 < 60 and y2 - y1 < 60


def test_a_mask_hides_motion_inside_it():
    mask = [[(190.0, 90.0), (250.0, 90.0), (250.0, 150.0), (190.0, 150.0)]]
    detector = MotionDetector(MotionConfig(frame_height=120, mask=mask))
    ground = _ground()
    detector.detect(ground)
    assert len(detector.detect(_with_square(ground, 200, 100)).boxes) == 0
    assert len(detector.detect(_with_square(ground, 40, 40)).boxes) == 1


def test_a_lighting_change_resets_the_background():
    detector = MotionDetector(MotionConfig(frame_height=120))
    ground = _ground()
    detector.detect(ground)
    result = detector.detect(cv2.add(ground, np.full_like(ground, 60)))
    assert result.reset and result.moving_fraction > 0.5
    assert not detector.detect(cv2.add(ground, np.full_like(ground, 60))).has_motion


def test_the_gate_skips_still_empty_frames_and_keeps_running_for_live_tracks():
    gate = MotionGate(MotionConfig(frame_height=120, warmup_frames=2, hold_frames=1))
    ground = _ground()
    reasons = [gate.decide(ground).reason for _ in range(5)]
    assert reasons == ["warmup", "warmup", "idle", "idle", "idle"]
    assert gate.decide(ground, [(10, 10, 40, 90)]).reason == "track"
    decision = gate.decide(_with_square(ground, 200, 100))
    assert decision.run and decision.reason == "motion" and decision.crop is None
    after = [gate.decide(ground) for _ in range(3)]
    assert [d.reason for d in after] == ["hold", "idle", "idle"]
    assert [d.run for d in after] == [True, False, False]


def test_crop_region_is_small_regions_only_and_stays_inside_the_frame():
    config = MotionConfig(crop=True, crop_min_px=100, crop_max_area_fraction=0.4, crop_margin=0.25)
    region = crop_region(np.array([[0, 0, 20, 40]], np.float32), 640, 480, config)
    assert region == (0, 0, 100, 100)  # grown to the minimum side, shifted back inside the frame
    assert crop_region(np.array([[0, 0, 600, 400]], np.float32), 640, 480, config) is None
    assert crop_region(np.zeros((0, 4), np.float32), 640, 480, config) is None


def test_detect_in_a_crop_maps_boxes_back_to_the_frame(yolox_nano_path: Path, vtest_path: Path):
    detector = load_detector("yolox-nano", path=yolox_nano_path)
    cap = cv2.VideoCapture(str(vtest_path))
    ok, frame = cap.read()
    cap.release()
    assert ok
    whole = detector.detect(frame)
    whole = whole[(whole.class_name == "person") & (whole.confidence > 0.5)]
    assert len(whole) >= 3
    x1, y1, x2, y2 = (int(v) for v in whole.xyxy[0])
    crop = (max(0, x1 - 60), max(0, y1 - 60), min(frame.shape[1], x2 + 60), min(frame.shape[0], y2 + 60))
    found = detect_in(detector, frame, crop)
    found = found[found.class_name == "person"]
    assert len(found) >= 1
    assert box_iou(whole.xyxy[:1], found.xyxy).max() > 0.7  # the same person, now in frame pixels


# ---------------------------------------------------------------- real clips, gating on and off


@dataclass
class GatedRun:
    records: list[ViolationRecord]
    stats: PipelineStats
    counts: dict[str, int]


def _run(camera: str, gating: bool, out: Path, yolox_nano_path: Path, vtest_path: Path) -> GatedRun:
    config = load_camera_config(REPO / "cameras" / f"{camera}.yaml")
    if camera == "vtest":
        config = config.model_copy(update={"source": str(vtest_path)})
    config = config.model_copy(update={"motion": config.motion.model_copy(update={"enabled": gating})})
    pipeline = CameraPipeline(config, load_detector("yolox-nano", path=yolox_nano_path), [DirectorySink(out)])
    stats = pipeline.run()
    counts = dict(pipeline.gate.counts) if pipeline.gate else {}
    return GatedRun(read_violations(out / "violations.jsonl"), stats, counts)


@pytest.fixture(scope="session")
def gated_runs(tmp_path_factory, yolox_nano_path: Path, vtest_path: Path) -> dict[tuple[str, bool], GatedRun]:
    runs = {}
    for camera in ("vtest", "di_bo_1"):
        for gating in (True, False):
            out = tmp_path_factory.mktemp(f"{camera}_{'gated' if gating else 'ungated'}")
            runs[(camera, gating)] = _run(camera, gating, out, yolox_nano_path, vtest_path)
    return runs


def _events(run: GatedRun) -> list[tuple[str, int, str]]:
    return sorted((r.violation_type, r.track_id, r.onset.isoformat()) for r in run.records)


@pytest.mark.slow
@pytest.mark.parametrize("camera", ["vtest", "di_bo_1"])
def test_gating_on_and_off_give_the_same_violations(gated_runs, camera: str):
    on, off = gated_runs[(camera, True)], gated_runs[(camera, False)]
    expected = "jaywalking" if camera == "vtest" else "littering"
    assert len(off.records) >= 1 and {r.violation_type for r in off.records} == {expected}
    assert _events(on) == _events(off)
    assert off.stats.detector_runs == off.stats.frames
    assert on.stats.frames == off.stats.frames
    assert sum(on.counts.values()) == on.stats.frames  # the gate decided every frame
