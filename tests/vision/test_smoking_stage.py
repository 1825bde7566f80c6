"""The pipeline's two-stage smoking step on a real photo: person → upper-body crop → cigarette → smoking rule.

A real valid photo of a smoker (the cigarette at his mouth) is pasted into an 800×800 frame and played as a
still 5 fps stream through `CameraPipeline` with YOLOX-Nano as the person detector and the committed
cigarette model on the crops, as the default two-stage config runs it (conf 0.25, flip TTA).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.frame import Frame
from vision.pipeline import CameraPipeline
from vision.scene import CameraConfig

PHOTO = "smoking-detection-wpb75-v3__1008_jpg.rf.3c5cad3458036f4bb5ee87621658d898.jpg"
WHOLE_FRAME = [[0, 0], [800, 0], [800, 800], [0, 800]]
LEFT_STRIP = [[0, 0], [40, 0], [40, 800], [0, 800]]  # nobody stands there


@pytest.fixture(scope="module")
def detectors(yolox_nano_path: Path):
    from vision.detectors import load_detector
    from vision.rules.smoking import TwoStageSmokingConfig
    from vision.smoking_stage import load_cigarette_detector

    # the cigarette model as a camera's default two-stage config runs it (conf 0.25, flip TTA)
    return load_detector("yolox-nano", path=yolox_nano_path), load_cigarette_detector(TwoStageSmokingConfig())


@pytest.fixture(scope="module")
def frames(shared_dir: Path) -> list[Frame]:
    photo = cv2.imread(str(shared_dir / "datasets" / "cigarettes" / "images" / "valid" / PHOTO))
    image = np.full((800, 800, 3), 128, np.uint8)
    image[80:720, 80:720] = photo
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return [Frame("cam", i, start + timedelta(seconds=i / 5), image) for i in range(16)]


def _run(detectors, frames: list[Frame], zone: list[list[int]], **two_stage) -> tuple[list, CameraPipeline]:
    person, cigarette = detectors
    config = CameraConfig.model_validate(
        {
            "camera_id": "cam",
            "model": "yolox-nano",
            "zones": {"no_smoking": [zone]},
            "rules": {
                "smoking": {
                    "cigarette_classes": ["cigarette"],
                    "two_stage": {"every_n_frames": 2, **two_stage},
                }
            },
            "motion": {"enabled": False},
        }
    )
    pipeline = CameraPipeline(config, person, [], cigarette_detector=cigarette)
    records = [r for f in frames for r in pipeline.process(f)] + pipeline.flush()
    pipeline.close()
    return records, pipeline


def test_smoker_in_the_zone_gives_one_smoking_violation(detectors, frames) -> None:
    records, pipeline = _run(detectors, frames, WHOLE_FRAME)
    assert [r.violation_type for r in records] == ["smoking"]
    # the cigarette model ran on every 2nd analysed frame, one crop each (one person)
    assert pipeline.smoking is not None and pipeline.smoking.runs == 8
    assert pipeline.stats.cigarette_crops == 7  # frame 0: the tracker has not started his track yet
    record = records[0]
    assert record.thresholds["two_stage.min_person_height_px"] == 100.0  # the record says two-stage ran
    assert record.thresholds["two_stage.conf"] == 0.25
    assert record.thresholds["two_stage.flip_tta"] == 1.0  # and how the cigarette model ran
    assert record.thresholds["cigarette_floor"] == 0.25  # the rule counted cigarettes from the stage's conf


def test_person_outside_the_zone_is_never_cropped(detectors, frames) -> None:
    records, pipeline = _run(detectors, frames, LEFT_STRIP)
    assert records == []
    assert pipeline.smoking is not None and pipeline.smoking.runs == 8
    assert pipeline.stats.cigarette_crops == 0


def test_person_below_the_minimum_height_is_never_judged(detectors, frames) -> None:
    records, pipeline = _run(detectors, frames, WHOLE_FRAME, min_person_height_px=2000)
    assert records == []
    assert pipeline.stats.cigarette_crops == 0


def test_without_two_stage_config_the_step_is_off(detectors) -> None:
    person, _ = detectors
    config = CameraConfig.model_validate({"zones": {"no_smoking": [WHOLE_FRAME]}})
    assert CameraPipeline(config, person, []).smoking is None


@pytest.mark.parametrize("flip_tta", [True, False])
def test_pipeline_builds_the_cigarette_detector_its_config_asks_for(detectors, flip_tta: bool) -> None:
    from vision.detectors import FlipTTA, OnnxDetector

    person, _ = detectors
    config = CameraConfig.model_validate(
        {
            "zones": {"no_smoking": [WHOLE_FRAME]},
            "rules": {"smoking": {"two_stage": {"flip_tta": flip_tta}}},
        }
    )
    pipeline = CameraPipeline(config, person, [])  # no cigarette detector given: built from the config
    assert pipeline.smoking is not None
    built = pipeline.smoking.cropper.detector
    pipeline.close()
    if flip_tta:
        assert isinstance(built, FlipTTA) and built.conf == 0.25
        assert isinstance(built.detector, OnnxDetector) and built.detector.conf == 0.01  # views run low
    else:
        assert isinstance(built, OnnxDetector) and not isinstance(built, FlipTTA) and built.conf == 0.25
    assert built.model_info.id == "cigarette"
