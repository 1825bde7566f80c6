"""Littering verification: the litter model, run around a proposal, labels it or marks it for human review.

Real litter photos (`../shared/datasets/litter` valid, 512×512) pasted into a grey 1280×720 frame at
(300, 40); the proposal is the photo's first labelled box. The committed `litter` model (0.2.0), on a crop
widened by the default `verify_margin` (2.0), finds the bottle of the first photo at 0.81; on a patch of plain
grey it finds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.formats import LabelledImage, load_yolo
from vision.rules.littering import LitteringConfig, LitteringRule, LitterObject
from vision.scene import Scene, ZonesConfig

BOTTLE_PHOTO = "20220531_111341-0-_jpg.rf.2e8a8de22363dde8af1d1cdd4e194f9c.jpg"


@pytest.fixture(scope="module")
def rule() -> LitteringRule:
    from vision.detectors import load_detector

    config = LitteringConfig()
    return LitteringRule(
        config, Scene(ZonesConfig()), load_detector(config.verify_model, conf=config.verify_conf)
    )


@pytest.fixture(scope="module")
def litter_valid(shared_dir: Path) -> list[LabelledImage]:
    """The litter valid photos with their labelled boxes in photo pixels, sorted by file name."""
    dataset = load_yolo(shared_dir / "datasets" / "litter" / "data.yaml", "val")
    return sorted(dataset.images, key=lambda item: item.path.name)


def _pasted(item: LabelledImage) -> tuple[np.ndarray, np.ndarray]:
    """The photo pasted into the frame at (300, 40), and its labelled boxes in frame pixels."""
    photo = cv2.imread(str(item.path))
    frame = np.full((720, 1280, 3), 128, np.uint8)
    frame[40 : 40 + item.height, 300 : 300 + item.width] = photo
    return frame, item.xyxy + np.array([300, 40, 300, 40])


def _object(box: np.ndarray) -> LitterObject:
    return LitterObject(1, box.astype(np.float64), datetime(2026, 3, 2, tzinfo=UTC), 0, 7, None, None)


def test_a_bottle_is_labelled_by_the_litter_model(
    rule: LitteringRule, litter_valid: list[LabelledImage]
) -> None:
    frame, boxes = _pasted(next(item for item in litter_valid if item.path.name == BOTTLE_PHOTO))
    box = boxes[0]
    obj = _object(box)
    rule._verify(obj, frame, box)
    assert obj.verified_by_model and obj.label == "bottle"
    assert 0.5 < obj.label_confidence <= 1.0
    assert rule._flags(obj) == {
        "verification.ran": 1.0,
        "verification.litter_found": 1.0,
        "verification.litter_confidence": round(obj.label_confidence, 3),
        "review.required": 0.0,
    }


def test_a_proposal_with_nothing_litter_like_is_flagged_for_review(rule: LitteringRule) -> None:
    frame = np.full((720, 1280, 3), 128, np.uint8)
    box = np.array([600.0, 400.0, 640.0, 430.0])
    obj = _object(box)
    rule._verify(obj, frame, box)
    assert not obj.verified_by_model and obj.label is None and obj.verify_runs == 1
    assert rule._flags(obj)["review.required"] == 1.0
    assert rule._flags(obj)["verification.litter_found"] == 0.0


def test_without_a_verifier_nothing_is_claimed() -> None:
    rule = LitteringRule(LitteringConfig(verify_model=None), Scene(ZonesConfig()))
    assert rule._flags(_object(np.array([0.0, 0.0, 10.0, 10.0]))) == {"verification.ran": 0.0}


def test_the_default_margin_verifies_most_pasted_litter(
    rule: LitteringRule, litter_valid: list[LabelledImage]
) -> None:
    """Every labelled object of the first 15 valid photos as a proposal, verified as the rule does (a box at
    conf >= 0.25 on the proposal): measured 88 of 93 at the default margin (2.0); the model needs context
    around a small object."""
    verified = total = 0
    for item in litter_valid[:15]:
        frame, boxes = _pasted(item)
        for box in boxes:
            obj = _object(box)
            rule._verify(obj, frame, box)
            verified += obj.verified_by_model
            total += 1
    assert total == 93
    assert verified >= 75
