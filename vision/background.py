"""Stationary-foreground proposals: regions of the ground that changed and then stayed still.

Why not plain `cv2.createBackgroundSubtractorMOG2`: MOG2 updates every pixel with one learning rate and
cannot be told "do not learn under this person" or "this pixel was never seen". Both matter here:
- people standing in the first frames would be learnt as background, and the pavement they uncover when
  they walk off would then look like a new object right beside them (a "ghost" littering);
- a panning camera keeps uncovering ground the model has never seen.
So this is a running-average background (`cv2.accumulateWeighted` with a mask) that learns only where no
person is, initialises a pixel the first time it is seen unoccluded, learns a foreground pixel only very
slowly (`absorb_s`, so a dropped object stays foreground for minutes), suppresses shadows (darker, same
colour), and whose whole state can be warped when the stabiliser re-anchors its reference.

A pixel is *stationary* when it has been foreground, outside every person box, with an unchanged colour
for `static_s`. Connected stationary pixels inside the watch zone are the proposals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class BackgroundConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    diff_threshold: float = Field(
        default=28.0,
        gt=0,
        le=255,
        description="Colour difference (max over B, G, R) that counts as foreground.",
    )
    blur_px: int = Field(
        default=5,
        ge=1,
        le=31,
        description="Gaussian blur kernel before differencing (odd); hides pixel noise.",
    )
    learn_s: float = Field(
        default=3.0, gt=0, le=3600, description="Time constant for learning background pixels (light drift)."
    )
    absorb_s: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="Time constant for absorbing foreground pixels: parked objects stay foreground so long.",
    )
    shadow_min_ratio: float = Field(
        default=0.45,
        ge=0,
        le=1,
        description="A pixel this much darker (or less) than the background can be shadow.",
    )
    shadow_max_ratio: float = Field(
        default=0.9, ge=0, le=1, description="Darker than this fraction of the background, same hue: shadow."
    )
    shadow_chroma_tolerance: float = Field(
        default=0.06, ge=0, le=1, description="Largest chromaticity change a shadow pixel may have."
    )
    open_px: int = Field(
        default=3,
        ge=1,
        le=31,
        description="Morphological opening of the foreground: removes thinner specks/lines.",
    )
    static_s: float = Field(
        default=0.5, gt=0, le=60, description="Foreground unchanged this long (outside people) is stationary."
    )
    static_tolerance: float = Field(
        default=30.0, gt=0, le=255, description="Colour change that restarts a pixel's stationary clock."
    )
    min_area_px: int = Field(
        default=120,
        ge=1,
        le=1_000_000,
        description="Smallest proposal in pixels (smaller specks are mostly body parts outside person boxes)",
    )
    max_area_fraction: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Largest proposal as a fraction of the frame (people, cars are bigger).",
    )
    lighting_change_fraction: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="When this share of the watched, visible pixels turns foreground at once it is a "
        "lighting change (a cloud, a lamp), not objects: the background is relearnt and nothing is proposed.",
    )


@dataclass(frozen=True)
class StaticBlob:
    """One stationary-foreground region, in reference (stabilised) pixel coordinates."""

    xyxy: tuple[float, float, float, float]
    area: int
    static_s: float  # how long its longest-still pixel has been stationary
    centroid: tuple[float, float]


@dataclass(frozen=True)
class ForegroundUpdate:
    blobs: tuple[StaticBlob, ...]
    lighting_change: bool
    foreground_fraction: float  # share of watched, visible pixels that are foreground
    foreground: np.ndarray = field(repr=False)  # bool H×W
    stationary: np.ndarray = field(repr=False)  # bool H×W


class StationaryForeground:
    """Stateful per camera. Feed stabilised frames with the person mask and the watch mask."""

    def __init__(self, config: BackgroundConfig | None = None) -> None:
        self.config = config or BackgroundConfig()
        self._background: np.ndarray | None = None  # float32 H×W×3
        self._known: np.ndarray | None = None  # uint8 H×W, 1 where the background has been seen
        self._static_s: np.ndarray | None = None  # float32 H×W, seconds stationary
        self._static_colour: np.ndarray | None = None  # float32 H×W×3, colour when the clock started

    def reset(self) -> None:
        self._background = None

    @property
    def background(self) -> np.ndarray | None:
        return None if self._background is None else self._background.astype(np.uint8)

    def warp(self, matrix: np.ndarray) -> None:
        """Move the whole state by a 3×3 transform (old → new reference); unseen pixels become unknown."""
        if self._background is None:
            return
        h, w = self._known.shape  # type: ignore[union-attr]
        size = (w, h)
        self._background = cv2.warpPerspective(self._background, matrix, size, flags=cv2.INTER_LINEAR)
        known = cv2.warpPerspective(self._known, matrix, size, flags=cv2.INTER_NEAREST)
        self._known = cv2.erode(known, np.ones((5, 5), np.uint8))
        self._static_s = cv2.warpPerspective(self._static_s, matrix, size, flags=cv2.INTER_NEAREST)
        self._static_colour = cv2.warpPerspective(self._static_colour, matrix, size, flags=cv2.INTER_NEAREST)

    def update(self, image: np.ndarray, people: np.ndarray, watch: np.ndarray, dt: float) -> ForegroundUpdate:
        """One stabilised frame.

        image: BGR uint8; people: bool mask of person (and vehicle) boxes; watch: bool mask of the litter
        zone; dt: seconds since the previous analysed frame.
        """
        cfg = self.config
        k = cfg.blur_px | 1
        current = cv2.GaussianBlur(image, (k, k), 0).astype(np.float32)
        free = ~people
        if self._background is None or self._background.shape != current.shape:
            self._background = current.copy()
            self._known = free.astype(np.uint8)
            self._static_s = np.zeros(current.shape[:2], np.float32)
            self._static_colour = current.copy()
            empty = np.zeros(current.shape[:2], bool)
            return ForegroundUpdate((), False, 0.0, empty, empty)
        assert self._known is not None and self._static_s is not None and self._static_colour is not None

        unseen = free & (self._known == 0)  # first unoccluded look at this pixel: it is the background
        self._background[unseen] = current[unseen]
        self._known[unseen] = 1
        known = self._known.astype(bool)

        foreground = self._foreground(current) & known & free
        visible = watch & known & free
        fraction = float(foreground[visible].mean()) if visible.any() else 0.0
        if fraction >= cfg.lighting_change_fraction:
            self._background[free] = current[free]
            self._known[~free] = 0  # under people the old light is stale: learn it when they leave
            self._static_s[:] = 0
            empty = np.zeros_like(foreground)
            return ForegroundUpdate((), True, fraction, empty, empty)

        self._learn(current, foreground, free, dt)
        self._advance_static_clock(current, foreground, free, dt)
        stationary = (self._static_s >= cfg.static_s) & watch
        blobs = self._blobs(stationary)
        return ForegroundUpdate(blobs, False, fraction, foreground, stationary)

    def _foreground(self, current: np.ndarray) -> np.ndarray:
        cfg = self.config
        background = self._background
        assert background is not None
        changed = _channel_max(cv2.absdiff(current, background)) > cfg.diff_threshold
        cur_sum = _channel_sum(current) + 1.0
        bg_sum = _channel_sum(background) + 1.0
        ratio = cur_sum / bg_sum
        chroma_shift = _channel_max(cv2.absdiff(current / cur_sum[..., None], background / bg_sum[..., None]))
        shadow = (
            (ratio >= cfg.shadow_min_ratio)
            & (ratio <= cfg.shadow_max_ratio)
            & (chroma_shift <= cfg.shadow_chroma_tolerance)
        )
        mask = (changed & ~shadow).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((cfg.open_px, cfg.open_px), np.uint8))
        return mask.astype(bool)

    def _learn(self, current: np.ndarray, foreground: np.ndarray, free: np.ndarray, dt: float) -> None:
        cfg = self.config
        background = self._background
        assert background is not None
        slow = 1.0 - float(np.exp(-dt / cfg.learn_s))
        very_slow = 1.0 - float(np.exp(-dt / cfg.absorb_s))
        cv2.accumulateWeighted(current, background, slow, mask=(free & ~foreground).astype(np.uint8))
        cv2.accumulateWeighted(current, background, very_slow, mask=foreground.astype(np.uint8))

    def _advance_static_clock(
        self, current: np.ndarray, foreground: np.ndarray, free: np.ndarray, dt: float
    ) -> None:
        cfg = self.config
        static_s, colour = self._static_s, self._static_colour
        assert static_s is not None and colour is not None
        moved = _channel_max(cv2.absdiff(current, colour)) > cfg.static_tolerance
        restart = foreground & ((static_s == 0) | moved)
        colour[restart] = current[restart]
        static_s[restart] = 0.0
        still = foreground & ~restart
        static_s[still] += dt
        static_s[restart] = 1e-6  # running, just started
        static_s[~foreground & free] = 0.0  # back to background (people keep their clocks: occluded, unknown)

    def _blobs(self, stationary: np.ndarray) -> tuple[StaticBlob, ...]:
        cfg = self.config
        mask = cv2.dilate(stationary.astype(np.uint8), np.ones((5, 5), np.uint8))  # join a blob's fragments
        count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
        max_area = cfg.max_area_fraction * stationary.size
        blobs = []
        for i in range(1, count):
            x, y, w, h, _ = stats[i]
            region = (labels[y : y + h, x : x + w] == i) & stationary[y : y + h, x : x + w]
            area = int(region.sum())
            if area < cfg.min_area_px or area > max_area:
                continue
            assert self._static_s is not None
            seconds = float(self._static_s[y : y + h, x : x + w][region].max())
            blobs.append(
                StaticBlob(
                    xyxy=(float(x), float(y), float(x + w), float(y + h)),
                    area=area,
                    static_s=seconds,
                    centroid=(float(centroids[i][0]), float(centroids[i][1])),
                )
            )
        return tuple(blobs)


def _channel_max(image: np.ndarray) -> np.ndarray:
    """Per-pixel max over the colour channels (cv2 is several times faster than numpy's strided max)."""
    b, g, r = cv2.split(image)
    return cv2.max(cv2.max(b, g), r)


def _channel_sum(image: np.ndarray) -> np.ndarray:
    b, g, r = cv2.split(image)
    return cv2.add(cv2.add(b, g), r)
