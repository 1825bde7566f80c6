"""Two-stage smoking crops: region geometry and crop → frame mapping, exact on hand-made cases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from vision.crops import CropRegion, SmokingCropConfig, SmokingCropper, crop_regions, upper_body_region
from vision.detections import Detections
from vision.detectors.base import Detector


class RedPatchDetector(Detector):
    """A tiny real detector: the bounding box of pure-red pixels in each image (one box or none)."""

    names = {0: "cigarette"}

    def __init__(self) -> None:
        self.seen_shapes: list[tuple[int, ...]] = []

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        out = []
        for image in images:
            self.seen_shapes.append(image.shape)
            ys, xs = np.nonzero((image[:, :, 2] == 255) & (image[:, :, 1] == 0) & (image[:, :, 0] == 0))
            if len(xs) == 0:
                out.append(Detections.empty())
                continue
            box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            out.append(Detections.from_lists([box], [0.9], ["cigarette"]))
        return out


def test_upper_body_region_is_the_head_and_hands_box_with_margins() -> None:
    config = SmokingCropConfig(min_person_height_px=100, top_margin=0.1, upper_fraction=0.5, side_margin=0.25)
    region = upper_body_region([100, 50, 140, 250], 640, 480, config, index=3)
    # height 200, width 40: x 100-10 .. 140+10, y 50-20 .. 50+100
    assert region == CropRegion(90, 30, 150, 150, 3)


def test_upper_body_region_is_clipped_to_the_frame() -> None:
    config = SmokingCropConfig(min_person_height_px=100, top_margin=0.1, upper_fraction=0.6, side_margin=0.5)
    region = upper_body_region([0, 0, 60, 200], 50, 100, config)
    assert region == CropRegion(0, 0, 50, 100, 0)


def test_people_below_the_minimum_height_are_never_cropped() -> None:
    config = SmokingCropConfig(min_person_height_px=120)
    assert upper_body_region([10, 10, 50, 129.9], 640, 480, config) is None
    assert upper_body_region([10, 10, 50, 130], 640, 480, config) is not None


def test_crop_boxes_map_back_by_the_crop_offset_exactly() -> None:
    region = CropRegion(90, 30, 150, 150, 0)
    mapped = region.to_frame(np.array([[0, 0, 10, 5], [12.5, 7.25, 60, 120]], dtype=np.float32))
    np.testing.assert_array_equal(mapped, [[90, 30, 100, 35], [102.5, 37.25, 150, 150]])


def test_crop_regions_take_only_eligible_people_tallest_first_up_to_the_cap() -> None:
    people = Detections.from_lists(
        [[0, 0, 40, 150], [100, 0, 140, 300], [200, 0, 240, 200], [300, 0, 340, 250]],
        [0.9, 0.9, 0.9, 0.9],
        ["person"] * 4,
    )
    config = SmokingCropConfig(min_person_height_px=100, max_people_per_frame=2)
    regions = crop_regions(people, 640, 480, config, np.array([True, False, True, True]))
    assert [r.person_index for r in regions] == [3, 2]


def test_cropper_returns_the_cigarette_in_frame_pixels_with_its_person() -> None:
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    frame[83:91, 215:231] = (0, 0, 255)  # a "cigarette" near the face of person 1
    frame[400:410, 20:30] = (0, 0, 255)  # red at the feet of person 0: outside every upper-body crop
    people = Detections.from_lists(
        [[0, 200, 60, 420], [200, 60, 250, 300], [400, 300, 420, 340]],
        [0.9, 0.8, 0.7],
        ["person"] * 3,
        tracker_id=[7, 8, 9],
    )
    detector = RedPatchDetector()
    cropper = SmokingCropper(detector, SmokingCropConfig(min_person_height_px=100))
    found = cropper.detect(frame, people, np.array([True, True, True]))
    assert len(detector.seen_shapes) == 2  # person 2 is 40 px tall: never judged
    assert len(found) == 1
    np.testing.assert_array_equal(found.xyxy, [[215, 83, 231, 91]])
    assert found.data["person_index"].tolist() == [1]
    assert found.data["person_track_id"].tolist() == [8]


def test_cropper_skips_people_outside_the_zone_and_follows_its_rate() -> None:
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    frame[83:91, 215:231] = (0, 0, 255)
    people = Detections.from_lists([[200, 60, 250, 300]], [0.8], ["person"])
    detector = RedPatchDetector()
    cropper = SmokingCropper(detector, SmokingCropConfig(min_person_height_px=100, every_n_frames=5))
    assert len(cropper.detect(frame, people, np.array([False]))) == 0
    assert detector.seen_shapes == []
    assert [i for i in range(12) if cropper.due(i)] == [0, 5, 10]


def test_eligible_mask_must_match_people() -> None:
    people = Detections.from_lists([[0, 0, 40, 150]], [0.9], ["person"])
    with pytest.raises(ValueError, match="eligible has 2 rows"):
        crop_regions(people, 640, 480, SmokingCropConfig(), np.array([True, True]))


def test_detect_around_a_proposal_maps_the_object_back_to_the_frame() -> None:
    from vision.crops import detect_around

    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    frame[300:310, 400:420] = (0, 0, 255)  # the dropped object
    frame[10:20, 10:20] = (0, 0, 255)  # far away: outside the proposal's context
    found = detect_around(frame, [398, 298, 422, 312], RedPatchDetector(), margin=0.5)
    assert len(found) == 1
    np.testing.assert_array_equal(found.xyxy, [[400, 300, 420, 310]])
