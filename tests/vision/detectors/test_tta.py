"""Flip test-time augmentation: exact box fusion on hand-made views, mirror symmetry with the real model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.formats import load_yolo
from vision.detections import Detections
from vision.detectors import load_flip_tta
from vision.detectors.tta import fuse_views, unflip


def _view(boxes: list[list[float]], scores: list[float], names: list[str] | None = None) -> Detections:
    names = names or ["cigarette"] * len(boxes)
    ids = [0 if n == "cigarette" else 1 for n in names]
    return Detections.from_lists(boxes, scores, names, class_id=ids)


def test_unflip_maps_mirror_pixels_back_exactly() -> None:
    found = _view([[10, 20, 30, 40], [0, 0, 100, 5]], [0.9, 0.5])
    back = unflip(found, width=100)
    assert back.xyxy.tolist() == [[70, 20, 90, 40], [0, 0, 100, 5]]
    assert back.confidence.tolist() == found.confidence.tolist()


def test_boxes_both_views_found_are_averaged_by_score() -> None:
    a = _view([[10, 10, 30, 30]], [0.8])
    b = _view([[12, 10, 32, 30]], [0.6])
    fused = fuse_views([a, b], iou=0.55)
    assert len(fused) == 1
    x1 = (10 * 0.8 + 12 * 0.6) / 1.4
    np.testing.assert_allclose(fused.xyxy[0], [x1, 10, x1 + 20, 30], rtol=1e-6)
    assert fused.confidence[0] == pytest.approx(0.7)


def test_a_box_one_view_missed_keeps_half_its_score() -> None:
    a = _view([[10, 10, 30, 30], [100, 100, 120, 120]], [0.8, 0.9])
    b = _view([[10, 10, 30, 30]], [0.8])
    fused = fuse_views([a, b], iou=0.55)
    assert len(fused) == 2
    assert fused.confidence.tolist() == pytest.approx([0.8, 0.45])  # sorted by fused score
    assert fused.xyxy[1].tolist() == [100, 100, 120, 120]


def test_classes_and_distant_boxes_are_not_fused() -> None:
    a = _view([[10, 10, 30, 30], [10, 10, 30, 30]], [0.8, 0.7], ["cigarette", "lighter"])
    b = _view([[25, 10, 45, 30]], [0.6])  # IoU 5/35 with the first box
    fused = fuse_views([a, b], iou=0.55)
    assert sorted(fused.class_name.tolist()) == ["cigarette", "cigarette", "lighter"]
    assert fused.confidence.tolist() == pytest.approx([0.4, 0.35, 0.3])
    assert len(fuse_views([Detections.empty(), Detections.empty()], iou=0.55)) == 0


def test_two_boxes_of_one_view_in_one_cluster_count_as_one_view() -> None:
    a = _view([[10, 10, 30, 30], [11, 10, 31, 30]], [0.6, 0.4])
    fused = fuse_views([a, Detections.empty()], iou=0.55)
    assert len(fused) == 1
    assert fused.confidence[0] == pytest.approx(0.25)  # mean 0.5 × 1 view of 2 that found it
    both = fuse_views([a, _view([[10, 10, 30, 30]], [0.8])], iou=0.55)
    assert both.confidence.tolist() == pytest.approx([0.6])  # mean of 0.6, 0.4, 0.8 × 2 views of 2


def test_flip_tta_on_a_mirrored_photo_gives_the_mirrored_boxes(shared_dir: Path) -> None:
    """The two views of a photo and of its mirror are the same two images, so the fused boxes must mirror."""
    detector = load_flip_tta("cigarette", conf=0.2)
    dataset = load_yolo(shared_dir / "datasets" / "cigarettes" / "data.yaml", "val")
    compared = 0
    for item in [im for im in dataset.images if len(im.xyxy)][:6]:
        image = cv2.imread(str(item.path))
        width = image.shape[1]
        found = detector.detect(image)
        mirrored = unflip(detector.detect(np.ascontiguousarray(image[:, ::-1])), width)
        assert len(found) == len(mirrored)
        order_a, order_b = np.lexsort(found.xyxy.T), np.lexsort(mirrored.xyxy.T)
        # letterbox padding of an odd margin falls on the other side of a mirror: a pixel at most
        np.testing.assert_allclose(found.xyxy[order_a], mirrored.xyxy[order_b], atol=1.5)
        np.testing.assert_allclose(found.confidence[order_a], mirrored.confidence[order_b], atol=0.02)
        compared += len(found)
    assert compared >= 5, "these photos hold 6+ labelled cigarettes; the model finds most"
