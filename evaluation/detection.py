"""Detection accuracy: COCO-style AP (faster-coco-eval) plus precision/recall at an operating confidence.

AP is computed by faster-coco-eval (the pycocotools algorithm in C++) from predictions kept down to a low
confidence (0.001), because AP integrates over every threshold. Precision and recall are then read at the
confidence the camera will actually run with, by the same greedy IoU ≥ 0.5 matching COCO uses.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from datasets.formats import BoxDataset, to_coco
from vision.detections import Detections, box_iou

MATCH_IOU = 0.5


@dataclass(frozen=True)
class ClassMetrics:
    name: str
    images: int  # images containing at least one box of this class
    boxes: int  # ground-truth boxes of this class (crowd regions excluded)
    predictions: int  # predictions at the operating confidence
    ap50: float
    ap50_95: float
    precision: float
    recall: float
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True)
class PRCurve:
    name: str
    recall: np.ndarray  # (101,) COCO recall thresholds
    precision: np.ndarray  # (101,) interpolated precision at IoU 0.5 (-1 where undefined)


@dataclass(frozen=True)
class DetectionReport:
    conf: float
    classes: tuple[ClassMetrics, ...]
    overall: ClassMetrics  # AP averaged over classes; P/R from pooled counts
    curves: tuple[PRCurve, ...]
    images: int
    boxes: int

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return {
            "conf": self.conf,
            "images": self.images,
            "boxes": self.boxes,
            "overall": asdict(self.overall),
            "classes": [asdict(c) for c in self.classes],
        }


def map_prediction_names(detections: Detections, class_map: Mapping[str, str]) -> Detections:
    """Rename model classes to dataset classes (`Normal` → `person`); unmapped names are kept."""
    if not class_map or not len(detections):
        return detections
    names = np.asarray([class_map.get(n, n) for n in detections.class_name], dtype=object)
    return replace(detections, class_name=names)


def _coco_results(
    predictions: Sequence[Detections], name_to_cat: Mapping[str, int], min_conf: float
) -> list[dict]:
    results = []
    for image_id, det in enumerate(predictions, start=1):
        for box, score, name in zip(det.xyxy, det.confidence, det.class_name, strict=True):
            if name not in name_to_cat or score < min_conf:
                continue
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append(
                {
                    "image_id": image_id,
                    "category_id": name_to_cat[name],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(score),
                }
            )
    return results


def _coco_precision(gt: dict, results: list[dict]) -> np.ndarray:
    """faster-coco-eval's accumulated precision array [T=10, R=101, K, A=4, M=3]."""
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(gt)
        coco_dt = coco_gt.loadRes(results) if results else coco_gt.loadRes([])
        ev = COCOeval_faster(coco_gt, coco_dt, "bbox", print_function=lambda *a, **k: None)
        ev.evaluate()
        ev.accumulate()
    return np.asarray(ev.eval["precision"])


def _ap(precision: np.ndarray) -> float:
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else float("nan")


def match_counts(
    gt_boxes: np.ndarray, gt_crowd: np.ndarray, pred_boxes: np.ndarray, pred_scores: np.ndarray, iou: float
) -> tuple[int, int, int]:
    """(tp, fp, fn) for one image and class: highest score first, each to the best unmatched box ≥ `iou`.

    A prediction that only overlaps a crowd region is neither TP nor FP (COCO's rule).
    """
    order = np.argsort(-pred_scores, kind="stable")
    real = ~gt_crowd
    ious = box_iou(pred_boxes[order], gt_boxes) if len(gt_boxes) and len(order) else np.zeros((len(order), 0))
    taken = np.zeros(len(gt_boxes), dtype=bool)
    tp = fp = 0
    for row in ious:
        candidates = np.where(real & ~taken & (row >= iou))[0]
        if candidates.size:
            taken[candidates[np.argmax(row[candidates])]] = True
            tp += 1
        elif np.any(gt_crowd & (row >= iou)):
            continue
        else:
            fp += 1
    return tp, fp, int(real.sum()) - tp


def evaluate_detections(
    dataset: BoxDataset,
    predictions: Sequence[Detections],
    *,
    conf: float = 0.25,
    classes: Sequence[str] | None = None,
) -> DetectionReport:
    """Score predictions (one `Detections` per dataset image, class names already in dataset terms).

    `classes` limits the evaluation (default: every dataset class some prediction or box uses).
    """
    if len(predictions) != len(dataset.images):
        raise ValueError(f"{len(predictions)} predictions for {len(dataset.images)} images")
    gt = to_coco(dataset)
    name_to_cat = {name: cid + 1 for cid, name in dataset.names.items()}
    if classes is None:
        used = {n for d in predictions for n in d.class_name} | {
            dataset.names[int(c)] for im in dataset.images for c in im.class_id
        }
        classes = [n for n in dataset.names.values() if n in used]
    unknown = [c for c in classes if c not in name_to_cat]
    if unknown:
        raise ValueError(f"classes {unknown} are not in the dataset ({list(dataset.names.values())})")
    selected = {name_to_cat[c] for c in classes}
    gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] in selected]
    gt["categories"] = [c for c in gt["categories"] if c["id"] in selected]
    results = [r for r in _coco_results(predictions, name_to_cat, 0.0) if r["category_id"] in selected]
    precision = _coco_precision(gt, results)  # K follows sorted category ids
    cat_order = sorted(selected)

    per_class: list[ClassMetrics] = []
    curves: list[PRCurve] = []
    totals = np.zeros(4, dtype=int)  # tp, fp, fn, predictions
    for name in classes:
        cat = name_to_cat[name]
        k = cat_order.index(cat)
        cid = cat - 1
        tp = fp = fn = npred = images_with = boxes = 0
        for im, det in zip(dataset.images, predictions, strict=True):
            gmask = im.class_id == cid
            pmask = (det.class_name == name) & (det.confidence >= conf)
            a, b, c = match_counts(
                im.xyxy[gmask], im.iscrowd[gmask], det.xyxy[pmask], det.confidence[pmask], MATCH_IOU
            )
            tp, fp, fn, npred = tp + a, fp + b, fn + c, npred + int(pmask.sum())
            real = int((~im.iscrowd[gmask]).sum())
            boxes += real
            images_with += real > 0
        totals += (tp, fp, fn, npred)
        per_class.append(
            ClassMetrics(
                name=name,
                images=images_with,
                boxes=boxes,
                predictions=npred,
                ap50=_ap(precision[0, :, k, 0, -1]),
                ap50_95=_ap(precision[:, :, k, 0, -1]),
                precision=tp / (tp + fp) if tp + fp else 0.0,
                recall=tp / (tp + fn) if tp + fn else 0.0,
                tp=tp,
                fp=fp,
                fn=fn,
            )
        )
        curves.append(PRCurve(name, np.linspace(0, 1, 101), precision[0, :, k, 0, -1].copy()))

    tp, fp, fn, npred = (int(v) for v in totals)
    selected_ids = [name_to_cat[c] - 1 for c in classes]
    scored = [c for c in per_class if c.boxes > 0]
    overall = ClassMetrics(
        name="all",
        images=sum(1 for im in dataset.images if np.isin(im.class_id, selected_ids).any()),
        boxes=tp + fn,
        predictions=npred,
        ap50=float(np.mean([c.ap50 for c in scored])) if scored else float("nan"),
        ap50_95=float(np.mean([c.ap50_95 for c in scored])) if scored else float("nan"),
        precision=tp / (tp + fp) if tp + fp else 0.0,
        recall=tp / (tp + fn) if tp + fn else 0.0,
        tp=tp,
        fp=fp,
        fn=fn,
    )
    return DetectionReport(conf, tuple(per_class), overall, tuple(curves), len(dataset.images), tp + fn)
