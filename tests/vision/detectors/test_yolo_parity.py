"""autofine's YOLO decoder against ultralytics' own `predict` on the same ONNX and real vtest frames."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ultralytics")
pytestmark = [pytest.mark.train, pytest.mark.slow]

from vision.detections import box_iou  # noqa: E402
from vision.detectors import load_detector  # noqa: E402

CONF, IOU = 0.25, 0.45


@pytest.fixture(scope="module")
def ultralytics_model(fall_onnx_path):
    from models.training.offline import prepare_offline_ultralytics

    prepare_offline_ultralytics()  # YOLO_OFFLINE, temp YOLO_CONFIG_DIR, local Arial.ttf
    from ultralytics import YOLO

    return YOLO(str(fall_onnx_path), task="detect")


def test_boxes_classes_and_confidences_match_ultralytics(
    ultralytics_model, fall_onnx_path, vtest_people_frames
):
    ours = load_detector(fall_onnx_path, class_map={}, conf=CONF, iou=IOU)  # raw classes, as ultralytics
    compared = 0
    for index, (image, _) in vtest_people_frames.items():
        theirs = ultralytics_model.predict(image, conf=CONF, iou=IOU, imgsz=640, verbose=False)[0].boxes
        their_xyxy = theirs.xyxy.cpu().numpy()
        their_conf = theirs.conf.cpu().numpy()
        their_names = [ultralytics_model.names[int(c)] for c in theirs.cls.cpu().numpy()]
        found = ours.detect(image)
        assert len(found) == len(their_xyxy), (
            f"frame {index}: {len(found)} boxes vs ultralytics {len(their_xyxy)}"
        )
        iou = box_iou(found.xyxy, their_xyxy)
        for i in range(len(found)):
            j = int(np.argmax(iou[i]))
            assert iou[i, j] >= 0.99, f"frame {index} box {i}: IoU {iou[i, j]:.4f}"
            assert found.class_name[i] == their_names[j]
            assert abs(float(found.confidence[i]) - float(their_conf[j])) <= 1e-3
            compared += 1
    assert compared > 0
    print(f"compared {compared} boxes on {len(vtest_people_frames)} frames")
