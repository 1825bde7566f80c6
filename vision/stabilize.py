"""Global motion compensation: warp every frame onto a reference view so a shaking camera looks still.

Phones held high and poles in the wind move the whole picture by a few pixels a frame; a background model
fed raw frames would then call every edge in the picture "new". `Stabilizer` tracks corner features from
frame to frame (Shi-Tomasi corners + pyramidal Lucas-Kanade, robust to the repeating pavement texture because
inter-frame motion is small), fits a similarity transform with RANSAC (`cv2.estimateAffinePartial2D`), chains
it onto the reference, and warps the frame into a canvas in reference coordinates. Pixels that the current
frame does not cover keep their last value, so the canvas never shows black borders that would look like
foreground. When the view has drifted far from the reference (a pan), the reference is re-anchored on the
current frame and `reanchor` gives the old-reference → new-reference transform, so a caller warps its state
(background model, object boxes) instead of throwing it away. When the fit fails (a cut, a blur), the
reference restarts and `reset` tells the caller to restart its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class StabilizerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True, description="Compensate global camera motion before background modelling."
    )
    motion_model: Literal["similarity", "homography"] = Field(
        default="similarity",
        description="similarity: shift+rotation+zoom (cv2.estimateAffinePartial2D), for a shaking camera; "
        "homography: adds perspective (cv2.findHomography), for a hand-held camera tilting over flat ground.",
    )
    max_corners: int = Field(default=400, ge=20, le=5000, description="Corner features tracked per frame.")
    work_width: int = Field(
        default=480, ge=160, le=4096, description="Frames are downscaled to this width for motion estimation."
    )
    min_inliers: int = Field(
        default=25,
        ge=6,
        le=1000,
        description="Fewer RANSAC inliers than this counts as a failed fit (reset).",
    )
    max_shift_fraction: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Re-anchor the reference when the view moved by more than this fraction of the frame.",
    )
    max_rotation_deg: float = Field(
        default=5.0,
        gt=0,
        le=90,
        description="Re-anchor the reference when the view has rotated more than this.",
    )
    max_scale_change: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Re-anchor the reference when the zoom changed by more than this fraction.",
    )


@dataclass(frozen=True)
class Stabilized:
    """One frame mapped into reference coordinates."""

    image: np.ndarray = field(repr=False)  # canvas in reference coordinates, same size as the frame
    to_reference: np.ndarray = field(repr=False)  # 3×3 homogeneous: frame pixel → reference pixel
    reset: bool  # True when the reference was restarted at this frame: earlier state no longer lines up
    inliers: int  # RANSAC inliers of the frame-to-frame fit (0 on a reset)
    reanchor: np.ndarray | None = field(default=None, repr=False)  # 3×3 old reference → new reference

    def points_to_reference(self, points: np.ndarray) -> np.ndarray:
        return _apply(self.to_reference, points)

    def points_to_frame(self, points: np.ndarray) -> np.ndarray:
        return _apply(np.linalg.inv(self.to_reference), points)

    def boxes_to_reference(self, xyxy: np.ndarray) -> np.ndarray:
        return map_boxes(self.to_reference, xyxy)

    def boxes_to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        return map_boxes(np.linalg.inv(self.to_reference), xyxy)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not len(pts):
        return pts
    return cv2.perspectiveTransform(pts[None], matrix)[0]


def map_boxes(matrix: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """Axis-aligned bounds of each box's four corners after the transform."""
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return boxes.astype(np.float32)
    x1, y1, x2, y2 = boxes.T
    corners = np.stack(
        [np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x1, y2], 1), np.stack([x2, y2], 1)]
    )
    mapped = _apply(matrix, corners.reshape(-1, 2)).reshape(4, -1, 2)
    return np.concatenate([mapped.min(0), mapped.max(0)], axis=1).astype(np.float32)


_IDENTITY = np.eye(3)


class Stabilizer:
    """Stateful per camera: call `stabilize` on consecutive frames."""

    def __init__(self, config: StabilizerConfig | None = None) -> None:
        self.config = config or StabilizerConfig()
        self._prev_gray: np.ndarray | None = None
        self._to_reference = _IDENTITY.copy()
        self._canvas: np.ndarray | None = None
        self._scale = 1.0

    def stabilize(self, image: np.ndarray) -> Stabilized:
        gray = self._small_gray(image)
        if not self.config.enabled:
            return Stabilized(image=image, to_reference=_IDENTITY.copy(), reset=False, inliers=0)
        if self._prev_gray is None or self._prev_gray.shape != gray.shape:
            return self._restart(image, gray)
        step, inliers = self._frame_to_previous(gray)
        if step is None:
            return self._restart(image, gray)
        candidate = self._to_reference @ step
        if self._too_far(candidate, image.shape[1], image.shape[0]):
            old_to_new = np.linalg.inv(
                candidate
            )  # old reference → current frame, which becomes the reference
            restarted = self._restart(image, gray)
            return Stabilized(
                image=restarted.image,
                to_reference=_IDENTITY.copy(),
                reset=False,
                inliers=inliers,
                reanchor=old_to_new,
            )
        self._to_reference = candidate
        self._prev_gray = gray
        size = (image.shape[1], image.shape[0])
        warped = cv2.warpPerspective(image, candidate, size, flags=cv2.INTER_LINEAR)
        covered = cv2.warpPerspective(
            np.full(image.shape[:2], 255, np.uint8), candidate, size, flags=cv2.INTER_NEAREST
        )
        covered = cv2.erode(covered, np.ones((5, 5), np.uint8))  # edge pixels blend with the black border
        assert self._canvas is not None
        np.copyto(self._canvas, warped, where=(covered > 0)[..., None])
        return Stabilized(
            image=self._canvas.copy(), to_reference=candidate.copy(), reset=False, inliers=inliers
        )

    def _restart(self, image: np.ndarray, gray: np.ndarray) -> Stabilized:
        self._prev_gray = gray
        self._to_reference = _IDENTITY.copy()
        self._canvas = image.copy()
        return Stabilized(image=image.copy(), to_reference=_IDENTITY.copy(), reset=True, inliers=0)

    def _small_gray(self, image: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        self._scale = min(1.0, self.config.work_width / gray.shape[1])
        if self._scale < 1.0:
            gray = cv2.resize(gray, None, fx=self._scale, fy=self._scale, interpolation=cv2.INTER_AREA)
        return gray

    def _frame_to_previous(self, gray: np.ndarray) -> tuple[np.ndarray | None, int]:
        """3×3 transform mapping current-frame pixels onto previous-frame pixels (full resolution)."""
        assert self._prev_gray is not None
        corners = cv2.goodFeaturesToTrack(
            gray, maxCorners=self.config.max_corners, qualityLevel=0.01, minDistance=7, blockSize=7
        )
        if corners is None or len(corners) < self.config.min_inliers:
            return None, 0
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            gray, self._prev_gray, corners, None, winSize=(21, 21), maxLevel=3
        )
        ok = status.reshape(-1) == 1
        if ok.sum() < self.config.min_inliers:
            return None, 0
        src = corners.reshape(-1, 2)[ok] / self._scale
        dst = moved.reshape(-1, 2)[ok] / self._scale
        threshold = 2.0 / self._scale
        if self.config.motion_model == "homography":
            matrix, inlier_mask = cv2.findHomography(
                src, dst, cv2.RANSAC, threshold, maxIters=2000, confidence=0.99
            )
        else:
            affine, inlier_mask = cv2.estimateAffinePartial2D(
                src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold, maxIters=2000, confidence=0.99
            )
            matrix = None if affine is None else np.vstack([affine, [0.0, 0.0, 1.0]])
        inliers = int(inlier_mask.sum()) if inlier_mask is not None else 0
        if matrix is None or inliers < self.config.min_inliers:
            return None, inliers
        return matrix, inliers

    def _too_far(self, matrix: np.ndarray, width: int, height: int) -> bool:
        centre = np.array([[width / 2, height / 2]])
        right = centre + [width / 4, 0]
        mapped_centre, mapped_right = _apply(matrix, np.vstack([centre, right]))
        arm = mapped_right - mapped_centre
        scale = float(np.hypot(*arm) / (width / 4))
        rotation = float(np.degrees(np.arctan2(arm[1], arm[0])))
        shift = np.abs(mapped_centre - centre[0]) / [width, height]
        return bool(
            shift.max() > self.config.max_shift_fraction
            or abs(rotation) > self.config.max_rotation_deg
            or abs(scale - 1) > self.config.max_scale_change
        )
