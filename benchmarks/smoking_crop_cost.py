"""Cost of the two-stage smoking path: milliseconds per upper-body crop through the cigarette model.

`python benchmarks/smoking_crop_cost.py [--threads 1] [--runs 15]`. Per camera, the CPU share is
crops per run × ms per crop × runs per second (fps / every_n_frames); see docs/models.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vision.detectors import load_detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    detector = load_detector("cigarette", conf=0.2, threads=args.threads)
    crop = np.random.default_rng(0).integers(0, 255, (150, 90, 3), dtype=np.uint8)  # a 250 px person's crop
    for _ in range(3):
        detector.detect(crop)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        detector.detect(crop)
        times.append((time.perf_counter() - start) * 1000)
    median, fastest = np.median(times), min(times)
    print(f"cigarette model, {args.threads} thread(s): median {median:.1f} ms per crop, min {fastest:.1f}")


if __name__ == "__main__":
    main()
