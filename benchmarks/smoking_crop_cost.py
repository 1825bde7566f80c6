"""Cost of the two-stage smoking path: milliseconds per upper-body crop through the cigarette model.

`python benchmarks/smoking_crop_cost.py [--threads 1] [--runs 15]` times one view and flip TTA (the crop and
its mirror in one batch, the smoking stage's default) in the same run, interleaved, so their ratio holds on a
loaded machine. Per camera, the CPU share is crops per run × ms per crop × runs per second
(fps / every_n_frames); see docs/models.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vision.detectors.base import Detector
from vision.rules.smoking import TwoStageSmokingConfig
from vision.smoking_stage import load_cigarette_detector


def _ms(detector: Detector, crop: np.ndarray) -> float:
    start = time.perf_counter()
    detector.detect(crop)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    detectors = {  # as the smoking stage builds them from its config
        "one view": load_cigarette_detector(TwoStageSmokingConfig(flip_tta=False), threads=args.threads),
        "flip TTA": load_cigarette_detector(TwoStageSmokingConfig(flip_tta=True), threads=args.threads),
    }
    crop = np.random.default_rng(0).integers(0, 255, (150, 90, 3), dtype=np.uint8)  # a 250 px person's crop
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for run in range(3 + args.runs):
        for name, detector in detectors.items():
            ms = _ms(detector, crop)
            if run >= 3:  # the first runs warm up onnxruntime
                times[name].append(ms)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    for name, t in times.items():
        head = f"cigarette model, {name}, {args.threads} thread(s)"
        print(f"{head}: median {medians[name]:.1f} ms per crop, min {min(t):.1f}")
    print(f"flip TTA / one view: {medians['flip TTA'] / medians['one view']:.2f}×")


if __name__ == "__main__":
    main()
