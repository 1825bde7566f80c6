import numpy as np
import pytest

from vision.detectors.letterbox import PAD_VALUE, letterbox


def test_centred_letterbox_pads_top_and_bottom_like_ultralytics():
    image = np.full((576, 768, 3), 7, dtype=np.uint8)  # vtest's size
    padded, box = letterbox(image, (640, 640), centre=True)
    assert padded.shape == (640, 640, 3)
    assert (box.scale_x, box.scale_y, box.pad_x, box.pad_y) == (640 / 768, 480 / 576, 0, 80)
    assert (padded[:80] == PAD_VALUE).all() and (padded[560:] == PAD_VALUE).all()
    assert (padded[80:560] == 7).all()


def test_top_left_letterbox_pads_right_and_bottom_like_yolox():
    image = np.full((300, 600, 3), 7, dtype=np.uint8)
    padded, box = letterbox(image, (416, 416), centre=False)
    assert (box.pad_x, box.pad_y) == (0, 0)
    assert (padded[:208] == 7).all() and (padded[208:] == PAD_VALUE).all()


@pytest.mark.parametrize("centre", [True, False])
def test_boxes_map_back_to_the_source_frame_exactly(centre):
    image = np.zeros((96, 128, 3), dtype=np.uint8)  # fits 64×64 at scale 0.5 → 64×48
    _, box = letterbox(image, (64, 64), centre=centre)
    pad_y = 8 if centre else 0
    model_boxes = np.array([[22, 22 + pad_y, 42, 42 + pad_y], [0, pad_y, 64, 48 + pad_y]], dtype=np.float32)
    np.testing.assert_array_equal(box.to_source(model_boxes), [[44, 44, 84, 84], [0, 0, 128, 96]])


def test_boxes_outside_the_picture_are_clipped_to_the_frame():
    _, box = letterbox(np.zeros((96, 128, 3), dtype=np.uint8), (64, 64))
    np.testing.assert_array_equal(box.to_source(np.array([[-10, 0, 70, 64]])), [[0, 0, 128, 96]])


def test_odd_padding_is_split_as_ultralytics_rounds_it():
    # 100×33 into 64: new size 64×21, 43 px of padding → 21 on top, 22 below (round(21.5 ± 0.1))
    padded, box = letterbox(np.full((33, 100, 3), 7, np.uint8), (64, 64))
    assert box.pad_y == 21
    assert (
        (padded[21:42] == 7).all() and (padded[42:] == PAD_VALUE).all() and (padded[:21] == PAD_VALUE).all()
    )
