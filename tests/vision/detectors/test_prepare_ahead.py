"""Letterboxing ahead (on the decode thread) gives `detect` exactly what letterboxing inline gives."""

from __future__ import annotations

import numpy as np

from vision.detectors import load_detector


def test_a_frame_prepared_ahead_gives_the_same_detections(vtest_people_frames):
    detector = load_detector("fall-yolov8s-int8")
    compared = 0
    for image, _people in vtest_people_frames.values():
        inline = detector.detect(image)
        detector.prepare_ahead(image)
        assert len(detector._ahead) == 1
        ahead = detector.detect(image)
        assert not detector._ahead  # used once, then forgotten
        assert len(inline) == len(ahead) > 0
        np.testing.assert_array_equal(inline.xyxy, ahead.xyxy)
        np.testing.assert_array_equal(inline.confidence, ahead.confidence)
        compared += len(inline)
    assert compared >= 20


def test_only_the_same_array_uses_what_was_prepared(vtest_people_frames):
    detector = load_detector("fall-yolov8s-int8")
    first, second = (image for image, _ in list(vtest_people_frames.values())[:2])
    detector.prepare_ahead(first)
    # a different array, even with the id of a freed one, is letterboxed afresh: its own people are found
    expected = detector.detect(second)
    detector._ahead[id(second)] = detector._ahead.pop(id(first))  # as if `second` reused `first`'s id
    got = detector.detect(second)
    np.testing.assert_array_equal(expected.xyxy, got.xyxy)
    assert not detector._ahead
    detector.prepare_ahead(first)
    detector.discard_ahead(first)  # skipped by the gate
    assert not detector._ahead


def test_a_caller_that_never_detects_holds_a_bounded_number_of_frames(vtest_people_frames):
    from vision.detectors.onnx import _MAX_AHEAD

    detector = load_detector("fall-yolov8s-int8")
    image = next(iter(vtest_people_frames.values()))[0]
    copies = [image.copy() for _ in range(_MAX_AHEAD + 5)]
    for copy in copies:
        detector.prepare_ahead(copy)
    assert len(detector._ahead) == _MAX_AHEAD
    assert id(copies[0]) not in detector._ahead and id(copies[-1]) in detector._ahead
    del copies, copy  # frames read ahead and dropped: their entries go with them
    assert not detector._ahead
