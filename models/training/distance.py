"""How far away can a camera still see a cigarette? Recall against person height, simulated on valid photos.

For each valid photo with cigarettes, the person detector finds the person holding one (the person box that
contains the cigarette's centre, standing and seen whole: box height ≥ 1.8 × width). The photo is then
downscaled so that person is H pixels tall (what a camera sees from further away), and the two-stage path
runs exactly as on a camera: the upper-body crop (`vision.crops`), enlarged by the cigarette model's
letterbox, boxes mapped back.

`python -m models.training.distance --data ../shared/datasets/cigarettes/data.yaml --out docs/img` prints a
table and writes `cigarette_distance.png` and `.json`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from datasets.formats import load_yolo
from evaluation.detection import match_counts
from vision.crops import SmokingCropConfig, SmokingCropper
from vision.detections import Detections

HEIGHTS = (400, 300, 200, 150, 100, 75, 50)
MIN_BODY_ASPECT = 1.8  # box height / width of a standing person seen whole


@dataclass(frozen=True)
class DistancePoint:
    person_height_px: int
    people: int  # people judged at this height (photos where the person was at least this tall)
    boxes: int  # cigarette boxes on them
    box_recall: float  # boxes found at IoU >= 0.5
    person_hit_rate: float  # people with at least one cigarette box found on their crop


def _smoker(people: Detections, cigarettes: np.ndarray, image_height: int) -> int | None:
    """The standing person whose box holds every cigarette centre, or None."""
    if not len(people) or not len(cigarettes):
        return None
    centres = np.stack(
        [(cigarettes[:, 0] + cigarettes[:, 2]) / 2, (cigarettes[:, 1] + cigarettes[:, 3]) / 2], 1
    )
    for i in np.argsort(-people.confidence):
        x1, y1, x2, y2 = people.xyxy[i]
        inside = (centres[:, 0] >= x1) & (centres[:, 0] <= x2) & (centres[:, 1] >= y1) & (centres[:, 1] <= y2)
        # only a standing, mostly whole body (tall box) gives a height that means distance; close-ups and
        # head-and-shoulders shots (most of this dataset) would make the simulation far too optimistic
        if inside.all() and (y2 - y1) >= MIN_BODY_ASPECT * (x2 - x1):
            return int(i)
    return None


def distance_curve(
    data: Path,
    cigarette_model: str,
    person_model: str,
    conf: float,
    person_path: Path | None = None,
    flip_tta: bool = True,
) -> tuple[list[DistancePoint], int, dict]:
    """Points per height, how many photos were usable, and which cigarette model file produced them."""
    from vision.detectors import load_detector, load_flip_tta

    dataset = load_yolo(data, "val")
    people_detector = load_detector(person_model, path=person_path, conf=0.4, class_map={})
    cigarette_detector = (load_flip_tta if flip_tta else load_detector)(cigarette_model, conf=conf)
    config = SmokingCropConfig(min_person_height_px=16, every_n_frames=1)
    cropper = SmokingCropper(cigarette_detector, config)
    counts = {h: [0, 0, 0, 0] for h in HEIGHTS}  # people, boxes, boxes found, people hit
    usable = 0
    for item in dataset.images:
        if not len(item.xyxy):
            continue
        image = cv2.imread(str(item.path))
        people = people_detector.detect(image).of_classes(["person"])
        smoker = _smoker(people, item.xyxy, image.shape[0])
        if smoker is None:
            continue
        usable += 1
        person = people.xyxy[smoker]
        for height in HEIGHTS:
            scale = height / float(person[3] - person[1])
            if scale > 1.0:
                continue  # the photo has fewer pixels on this person than the camera would
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            one = Detections.from_lists([person * scale], [1.0], ["person"])
            found = cropper.detect(small, one, np.array([True]))
            truth = item.xyxy * scale
            tp, _fp, _fn = match_counts(truth, np.zeros(len(truth), bool), found.xyxy, found.confidence, 0.5)
            row = counts[height]
            row[0] += 1
            row[1] += len(truth)
            row[2] += tp
            row[3] += int(len(found) > 0)
    points = [
        DistancePoint(h, p, b, f / b if b else float("nan"), hit / p if p else float("nan"))
        for h, (p, b, f, hit) in counts.items()
    ]
    return points, usable, cigarette_detector.model_info.model_dump()


def plot(points: list[DistancePoint], out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p.person_height_px for p in points]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    ax.plot(xs, [p.box_recall for p in points], "o-", label="cigarette boxes found (IoU ≥ 0.5)")
    ax.plot(xs, [p.person_hit_rate for p in points], "s--", label="smokers with a cigarette found")
    for p in points:
        ax.annotate(
            f"n={p.people}",
            (p.person_height_px, p.person_hit_rate),
            fontsize=7,
            xytext=(2, 4),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("person height in the frame (px)")
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="cigarette")
    parser.add_argument("--person-model", default="yolox-nano")
    parser.add_argument("--person-path", type=Path, default=None)
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--no-flip-tta", action="store_true", help="one view per crop (flip_tta off)")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args(argv)
    points, usable, model = distance_curve(
        args.data, args.model, args.person_model, args.conf, args.person_path, flip_tta=not args.no_flip_tta
    )
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{usable} valid photos with a standing, whole smoker found by {args.person_model}")
    print("height_px  people  boxes  box_recall  smoker_hit_rate")
    for p in points:
        row = f"{p.person_height_px:9d}  {p.people:6d}  {p.boxes:5d}  {p.box_recall:10.3f}"
        print(f"{row}  {p.person_hit_rate:15.3f}")
    tta = "" if args.no_flip_tta else ", flip TTA"
    title = f"{args.model} two-stage recall vs person height (conf {args.conf}{tta}, {usable} photos)"
    png = plot(points, args.out / "cigarette_distance.png", title)
    (args.out / "cigarette_distance.json").write_text(
        json.dumps(
            {
                "model": model,
                "usable_photos": usable,
                "conf": args.conf,
                "flip_tta": not args.no_flip_tta,
                "points": [asdict(p) for p in points],
            },
            indent=1,
        )
    )
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
