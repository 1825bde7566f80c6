import numpy as np
import pytest

from vision.detectors.nms import nms

A = [0, 0, 10, 10]
A_SHIFTED = [1, 0, 11, 10]  # IoU with A = 90/110 ≈ 0.82
FAR = [50, 50, 60, 60]


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "expected"),
    [
        ([], [], [], []),
        ([A, A_SHIFTED, FAR], [0.9, 0.8, 0.7], [0, 0, 0], [0, 2]),  # overlap suppressed, far one kept
        ([A, A_SHIFTED, FAR], [0.8, 0.9, 0.7], [0, 0, 0], [1, 2]),  # the higher score wins
        ([A, A_SHIFTED], [0.9, 0.8], [0, 1], [0, 1]),  # different classes never suppress each other
        ([A, A_SHIFTED], [0.9, 0.8], None, [0]),  # class-agnostic
        ([A, [5, 0, 15, 10]], [0.9, 0.8], [0, 0], [0, 1]),  # IoU 1/3 below 0.45: both kept
    ],
)
def test_nms(boxes, scores, classes, expected):
    keep = nms(np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(scores), classes, 0.45)
    assert keep.tolist() == expected


def test_max_det_limits_the_kept_boxes():
    boxes = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(10)], dtype=np.float32)
    assert len(nms(boxes, np.linspace(1, 0.1, 10), None, 0.45, max_det=3)) == 3
