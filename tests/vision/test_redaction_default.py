"""Privacy by default (issue 12): stored evidence hides every bystander's whole body, not only the head."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vision.detectors import load_detector
from vision.redaction import redact_bystanders
from vision.scene import EvidenceConfig


def test_default_config_blurs_whole_bystanders_and_keeps_the_offender(
    vtest_path: Path, yolox_nano_path: Path
) -> None:
    cap = cv2.VideoCapture(str(vtest_path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 300)
    ok, image = cap.read()
    cap.release()
    assert ok
    people = load_detector("yolox-nano", path=yolox_nano_path).detect(image).of_classes(["person"])
    people = people[people.confidence >= 0.4]
    people = people.with_tracker_ids(np.arange(len(people)))
    assert len(people) >= 4
    offender = int(np.argmax(people.area))
    config = EvidenceConfig()

    result = redact_bystanders(
        image, people, offender_track_id=offender, head_fraction=config.head_fraction, motion=None
    )

    ox1, oy1, ox2, oy2 = people.xyxy[offender].astype(int)
    assert np.array_equal(result.image[oy1:oy2, ox1:ox2], image[oy1:oy2, ox1:ox2])
    legs_checked = 0
    for i, (x1, y1, x2, y2) in enumerate(people.xyxy.astype(int)):
        if i == offender or not (x2 <= ox1 or x1 >= ox2 or y2 <= oy1 or y1 >= oy2):
            continue  # the offender, or a bystander overlapping the offender (whose box is restored)
        legs = (slice((y1 + y2) // 2 + 2, y2 - 1), slice(x1 + 1, x2 - 1))  # lower half: below any head
        diff = np.abs(result.image[legs].astype(int) - image[legs].astype(int)).mean()
        assert diff > 1.0, f"bystander {i}: lower body left sharp (mean change {diff:.2f})"
        legs_checked += 1
    assert legs_checked >= 3
