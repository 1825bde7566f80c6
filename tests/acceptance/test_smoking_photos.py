"""Acceptance (issue 11): the real two-stage smoking path on real photos finds the labelled cigarettes.

No real street footage of smoking is at hand, so the valid photos of `../shared/datasets/cigarettes` stand in:
each photo goes through the path a camera runs: YOLOX-Nano (`../shared/models/yolox_nano.onnx`) finds people,
`SmokingCropper` cuts each person's upper body (people under `min_person_height_px` are never judged), the
committed cigarette model runs on the enlarged crop as the default config runs it (conf 0.25, flip TTA),
boxes come back in photo pixels. A labelled cigarette counts as found when a returned box overlaps it at
IoU ≥ 0.3 (boxes of a few pixels: a 0.5 overlap is a matter of two pixels). Photos without a cigarette —
the dataset's empty-label photos and the coco128 photos with a person — must mostly give no cigarette box.

Measured 2026-11-26 04:20 UTC with cigarette 0.3.0 (512 px, dynamic; `-s` prints the counts): 343 valid
photos with a person, 361 labelled cigarettes, 232 found (0.643; one view at 0.25: 229; 0.2.0: 200); 60
photos with a person and no cigarette (3 empty-label valid photos, 57 coco128), 52 without any cigarette box
(0.867; one view: 53; 0.2.0: 53).
~100 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.formats import load_yolo
from vision.crops import SmokingCropper
from vision.detections import box_iou
from vision.rules.smoking import TwoStageSmokingConfig
from vision.smoking_stage import load_cigarette_detector

pytestmark = pytest.mark.slow

MATCH_IOU = 0.3
# Bounds from the measured shares (docs/acceptance.md), a little below them so that a changed BLAS or
# onnxruntime rounding does not flip the test, far above what a broken crop mapping or model gives.
MIN_CIGARETTE_RECALL = 0.58  # measured 232 of 361 = 0.643
MIN_CLEAN_SHARE = 0.83  # measured 52 of 60 = 0.867


@dataclass(frozen=True)
class PhotoResult:
    name: str
    people: int  # people the person detector found (any height)
    labelled: int  # labelled cigarettes
    found: int  # labelled cigarettes matched by a returned box
    boxes: int  # cigarette boxes returned
    max_conf: float


@dataclass(frozen=True)
class PhotoRun:
    smokers: list[PhotoResult]  # valid photos with labels and at least one person
    clean: list[PhotoResult]  # photos with a person and no cigarette


def two_stage_photo(
    image: np.ndarray, people_detector, cropper: SmokingCropper, labels: np.ndarray, name: str
):
    """One photo through person detector → upper-body crops → cigarette model; matched against `labels`."""
    people = people_detector.detect(image).of_classes(["person"])
    found = cropper.detect(image, people, np.ones(len(people), dtype=bool)) if len(people) else None
    boxes = found.xyxy if found is not None else np.zeros((0, 4))
    matched = 0
    if len(labels) and len(boxes):
        matched = int((box_iou(labels, boxes.astype(np.float64)).max(axis=1) >= MATCH_IOU).sum())
    conf = float(found.confidence.max()) if found is not None and len(found) else 0.0
    return PhotoResult(name, len(people), len(labels), matched, len(boxes), conf)


@pytest.fixture(scope="session")
def photo_run(shared_dir: Path, yolox_nano_path: Path) -> PhotoRun:
    from vision.detectors import load_detector

    config = TwoStageSmokingConfig()
    people_detector = load_detector("yolox-nano", path=yolox_nano_path, conf=0.3)
    cropper = SmokingCropper(load_cigarette_detector(config), config)
    smokers, clean = [], []
    cigarettes = load_yolo(shared_dir / "datasets" / "cigarettes" / "data.yaml", "val")
    for item in sorted(cigarettes.images, key=lambda item: item.path.name):
        result = two_stage_photo(
            cv2.imread(str(item.path)), people_detector, cropper, item.xyxy, item.path.name
        )
        if not result.people:
            continue
        (smokers if len(item.xyxy) else clean).append(result)
    coco = load_yolo(shared_dir / "datasets" / "coco128" / "data.yaml", "val")
    for item in sorted(coco.images, key=lambda item: item.path.name):
        if 0 not in item.class_id:  # photos with a person (COCO class 0)
            continue
        result = two_stage_photo(
            cv2.imread(str(item.path)), people_detector, cropper, np.zeros((0, 4)), item.path.name
        )
        if result.people:
            clean.append(result)
    return PhotoRun(smokers, clean)


def test_two_stage_path_finds_the_labelled_cigarettes(photo_run: PhotoRun) -> None:
    labelled = sum(r.labelled for r in photo_run.smokers)
    found = sum(r.found for r in photo_run.smokers)
    print(f"\nphotos with a person: {len(photo_run.smokers)}; cigarettes labelled {labelled}, found {found}")
    assert len(photo_run.smokers) >= 300, "355 labelled valid photos; YOLOX-Nano finds a person on 343"
    assert labelled >= 330
    assert found / labelled >= MIN_CIGARETTE_RECALL


def test_photos_without_a_cigarette_mostly_give_no_cigarette(photo_run: PhotoRun) -> None:
    clean = photo_run.clean
    quiet = [r for r in clean if r.boxes == 0]
    print(f"\nphotos with a person and no cigarette: {len(clean)}; without any cigarette box: {len(quiet)}")
    assert len(clean) >= 55, "57 coco128 photos and 3 empty-label valid photos with a person"
    assert len(quiet) / len(clean) >= MIN_CLEAN_SHARE
