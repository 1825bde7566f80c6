"""Scripted synthetic clips for event evaluation: coloured walkers on a drawn street, and a detector for them.

The clip is rendered deterministically from a `Scenario` (walkers moving along waypoints), so the ground truth
of `datasets/events/synthetic_*.yaml` can be derived from the same geometry and checked in tests. The
`ColorBlobDetector` is a real (if simple) detector: it finds saturated blobs by thresholding HSV, so the
whole pipeline — tracker, rules, confirmation, evidence — runs unchanged on these clips.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from autofine.contract import ModelInfo
from autofine.errors import UserError
from vision.detections import Detections
from vision.detectors.base import Detector

ROAD_BGR = (90, 90, 90)
LAWN_BGR = (70, 115, 70)  # low saturation: never mistaken for a walker
STRIPE_BGR = (235, 235, 235)


@dataclass(frozen=True)
class Walker:
    name: str
    color_bgr: tuple[int, int, int]  # saturated, so the blob detector finds it
    waypoints: tuple[tuple[float, float, float], ...]  # (t seconds, foot x, foot y), t increasing
    size: tuple[int, int] = (24, 60)  # box width, height in pixels

    def foot_at(self, t: float) -> tuple[float, float] | None:
        """Foot point at time t (linear between waypoints); None before the first or after the last."""
        ts = [w[0] for w in self.waypoints]
        if t < ts[0] or t > ts[-1]:
            return None
        x = float(np.interp(t, ts, [w[1] for w in self.waypoints]))
        y = float(np.interp(t, ts, [w[2] for w in self.waypoints]))
        return x, y

    def box_at(self, t: float) -> tuple[float, float, float, float] | None:
        foot = self.foot_at(t)
        if foot is None:
            return None
        w, h = self.size
        return (foot[0] - w / 2, foot[1] - h, foot[0] + w / 2, foot[1])


@dataclass(frozen=True)
class Scenario:
    name: str
    width: int
    height: int
    fps: float
    seconds: float
    road: tuple[tuple[int, int], ...]
    crosswalk: tuple[tuple[int, int], ...]
    walkers: tuple[Walker, ...]

    @property
    def frame_count(self) -> int:
        return int(round(self.seconds * self.fps))

    def render(self, index: int) -> np.ndarray:
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[:] = LAWN_BGR
        cv2.fillPoly(image, [np.asarray(self.road, np.int32)], ROAD_BGR)
        x1, y1 = np.min(self.crosswalk, axis=0)
        x2, y2 = np.max(self.crosswalk, axis=0)
        for x in range(int(x1) + 4, int(x2) - 4, 16):  # zebra stripes
            cv2.rectangle(image, (x, int(y1)), (x + 8, int(y2)), STRIPE_BGR, -1)
        t = index / self.fps
        for walker in self.walkers:
            box = walker.box_at(t)
            if box is not None:
                p1 = (int(round(box[0])), int(round(box[1])))
                p2 = (int(round(box[2])) - 1, int(round(box[3])) - 1)
                cv2.rectangle(image, p1, p2, walker.color_bgr, -1)
        return image


def _walk(t0: float, start: tuple[float, float], t1: float, end: tuple[float, float]) -> tuple:
    return ((t0, *start), (t1, *end))


# 640×480 at 10 fps. Road: the band 180 ≤ y ≤ 340; crosswalk: 280 ≤ x ≤ 360 across it. Walkers move 40 px/s.
CROSSING = Scenario(
    name="crossing",
    width=640,
    height=480,
    fps=10.0,
    seconds=14.0,
    road=((0, 180), (640, 180), (640, 340), (0, 340)),
    crosswalk=((280, 180), (360, 180), (360, 340), (280, 340)),
    walkers=(
        Walker("jaywalker-a", (0, 0, 230), _walk(1.0, (100, 120), 8.5, (100, 420))),  # red: crosses at x=100
        Walker("crosswalk-b", (230, 60, 0), _walk(2.0, (320, 100), 10.5, (320, 440))),  # blue: on the zebra
        Walker("lawn-c", (200, 0, 200), ((0.0, 620, 130), (5.5, 400, 130), (14.0, 400, 130))),  # magenta
        Walker("kerb-e", (230, 230, 0), ((0.0, 200, 200), (14.0, 200, 200))),  # cyan: stands on the road edge
        Walker("jaywalker-d", (0, 220, 220), _walk(6.0, (470, 420), 14.0, (560, 100))),  # yellow: diagonal
    ),
)
SCENARIOS: dict[str, Scenario] = {CROSSING.name: CROSSING}


def cache_dir() -> Path:
    return Path(os.environ.get("AUTOFINE_CACHE_DIR", Path.home() / ".cache" / "autofine")) / "synthetic"


def render_clip(scenario: Scenario, path: Path) -> Path:
    """Write the scenario as an MJPG AVI (OpenCV writes and reads it on every platform)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.avi")
    writer = cv2.VideoWriter(
        str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), scenario.fps, (scenario.width, scenario.height)
    )
    if not writer.isOpened():
        raise UserError(f"OpenCV cannot write {tmp}; check the folder is writable")
    for i in range(scenario.frame_count):
        writer.write(scenario.render(i))
    writer.release()
    tmp.replace(path)
    return path


def synthetic_clip(name: str) -> Path:
    """`synthetic:<name>` → the rendered clip in the cache (rendered on first use)."""
    if name not in SCENARIOS:
        raise UserError(f"unknown synthetic clip {name!r}; known: {', '.join(sorted(SCENARIOS))}")
    path = cache_dir() / f"{name}.avi"
    if not path.is_file():
        render_clip(SCENARIOS[name], path)
    return path


class ColorBlobDetector(Detector):
    """Finds saturated colour blobs (the walkers of a synthetic clip) and calls each a `person`."""

    family = "color-blobs"

    def __init__(self, min_area: int = 300, confidence: float = 0.9) -> None:
        self.names = {0: "person"}
        self.min_area = min_area
        self.confidence = confidence
        digest = hashlib.sha256(f"color-blobs-v1:{min_area}".encode()).hexdigest()
        self.model_info = ModelInfo(id="color-blobs", version="1", sha256=digest)
        self.providers = ["numpy"]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        return [self._detect(im) for im in images]

    def _detect(self, image: np.ndarray) -> Detections:
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
        mask = ((hsv[..., 1] > 170) & (hsv[..., 2] > 120)).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        boxes = [
            (float(x), float(y), float(x + w), float(y + h))
            for x, y, w, h, area in stats[1:count]
            if area >= self.min_area
        ]
        return Detections.from_lists(boxes, [self.confidence] * len(boxes), ["person"] * len(boxes))


DETECTORS = {"color-blobs": ColorBlobDetector}
