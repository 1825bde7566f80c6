"""Hand-made cases with exact expected numbers: the metric code must be right before any model is scored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datasets.formats import BoxDataset, LabelledImage
from evaluation.detection import evaluate_detections, match_counts
from vision.detections import Detections

NAMES = {0: "person", 1: "bottle"}


def make_dataset(boxes_per_image: list[list[tuple[str, tuple[float, float, float, float]]]]) -> BoxDataset:
    ids = {v: k for k, v in NAMES.items()}
    images = []
    for i, boxes in enumerate(boxes_per_image):
        xyxy = np.asarray([b for _, b in boxes], dtype=np.float64).reshape(-1, 4)
        cls = np.asarray([ids[n] for n, _ in boxes], dtype=np.int64)
        images.append(LabelledImage(Path(f"img{i}.jpg"), 640, 480, xyxy, cls))
    return BoxDataset(NAMES, tuple(images))


def perfect(dataset: BoxDataset, score: float = 0.9) -> list[Detections]:
    return [
        Detections.from_lists(im.xyxy.tolist(), [score] * len(im.xyxy), [NAMES[int(c)] for c in im.class_id])
        for im in dataset.images
    ]


GT = [
    [("person", (10, 10, 60, 150)), ("person", (200, 40, 260, 200)), ("bottle", (300, 300, 330, 360))],
    [("person", (100, 100, 180, 300)), ("bottle", (50, 400, 80, 460))],
    [("person", (400, 50, 470, 250))],
]


def test_perfect_predictions_score_one() -> None:
    dataset = make_dataset(GT)
    report = evaluate_detections(dataset, perfect(dataset))
    assert [c.name for c in report.classes] == ["person", "bottle"]
    assert report.boxes == 6 and report.images == 3
    for c in (*report.classes, report.overall):
        assert c.ap50 == pytest.approx(1.0)
        assert c.ap50_95 == pytest.approx(1.0)
        assert c.precision == 1.0 and c.recall == 1.0
    assert report.overall.tp == 6 and report.overall.fp == 0 and report.overall.fn == 0


def test_one_missing_box_gives_recall_n_minus_1_over_n() -> None:
    dataset = make_dataset(GT)
    preds = perfect(dataset)
    preds[0] = preds[0][np.array([False, True, True])]  # drop the first person
    report = evaluate_detections(dataset, preds)
    person = report.classes[0]
    assert person.boxes == 4 and person.tp == 3 and person.fn == 1 and person.fp == 0
    assert person.recall == pytest.approx(3 / 4)
    assert person.precision == 1.0
    # AP: precision 1 up to recall 0.75, then nothing → 76 of 101 COCO recall points
    assert person.ap50 == pytest.approx(76 / 101)
    assert report.classes[1].ap50 == pytest.approx(1.0)
    assert report.overall.recall == pytest.approx(5 / 6)


def test_wrong_class_is_a_false_positive_and_a_miss() -> None:
    dataset = make_dataset(GT)
    preds = perfect(dataset)
    wrong = preds[1]  # the bottle in image 1 is called a person
    names = wrong.class_name.copy()
    names[1] = "person"
    preds[1] = Detections(wrong.xyxy, wrong.confidence, wrong.class_id, names)
    report = evaluate_detections(dataset, preds)
    person, bottle = report.classes
    assert (person.tp, person.fp, person.fn) == (4, 1, 0)
    assert person.precision == pytest.approx(4 / 5)
    assert (bottle.tp, bottle.fp, bottle.fn) == (1, 0, 1)
    assert bottle.recall == pytest.approx(1 / 2)
    assert bottle.ap50 == pytest.approx(51 / 101)
    # all person predictions share one score, so COCO ranks the FP by order: AP drops below 1
    assert person.ap50 < 1.0


def test_low_confidence_counts_for_ap_but_not_for_precision_recall() -> None:
    dataset = make_dataset(GT)
    preds = perfect(dataset, score=0.1)
    report = evaluate_detections(dataset, preds, conf=0.25)
    assert report.overall.ap50 == pytest.approx(1.0)
    assert report.overall.predictions == 0 and report.overall.recall == 0.0 and report.overall.fn == 6


def test_shifted_box_fails_strict_iou_thresholds() -> None:
    dataset = make_dataset([[("person", (0, 0, 100, 100))]])
    # IoU = 80*100 / (100*100 + 100*100 - 80*100) = 0.6667: a hit at 0.50..0.65, a miss from 0.70 up
    preds = [Detections.from_lists([(20, 0, 120, 100)], [0.9], ["person"])]
    report = evaluate_detections(dataset, preds, classes=["person"])
    person = report.classes[0]
    assert person.ap50 == pytest.approx(1.0)
    assert person.ap50_95 == pytest.approx(4 / 10)


def test_empty_predictions_score_zero() -> None:
    dataset = make_dataset(GT)
    report = evaluate_detections(dataset, [Detections.empty() for _ in GT])
    assert report.overall.ap50 == 0.0 and report.overall.recall == 0.0 and report.overall.fn == 6


@pytest.mark.parametrize(
    ("gt", "crowd", "pred", "expected"),
    [
        ([], [], [], (0, 0, 0)),
        ([(0, 0, 10, 10)], [False], [], (0, 0, 1)),
        ([], [], [(0, 0, 10, 10)], (0, 1, 0)),
        ([(0, 0, 10, 10)], [False], [(0, 0, 10, 10), (0, 0, 10, 10)], (1, 1, 0)),  # duplicate → FP
        ([(0, 0, 10, 10)], [True], [(0, 0, 10, 10)], (0, 0, 0)),  # crowd: ignored
    ],
)
def test_match_counts(gt, crowd, pred, expected) -> None:
    scores = np.linspace(0.9, 0.5, len(pred))
    got = match_counts(
        np.asarray(gt, dtype=float).reshape(-1, 4),
        np.asarray(crowd, dtype=bool),
        np.asarray(pred, dtype=float).reshape(-1, 4),
        scores,
        0.5,
    )
    assert got == expected
