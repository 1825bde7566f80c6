"""`Detections`: one columnar value per frame, passed between detector, tracker and rules.

Modelled on supervision's `Detections` (parallel arrays, shape checks, `empty()`/`merge()`), kept small and
ours so the rest of the pipeline never sees ONNX tensors. `tracker_id` is filled in by the tracker only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Boxes found in one frame, in pixel xyxy of the original (not letterboxed) image."""

    xyxy: np.ndarray  # (N, 4) float32
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int64
    class_name: np.ndarray  # (N,) object (str)
    tracker_id: np.ndarray | None = None  # (N,) int64, set by the tracker
    data: dict[str, np.ndarray] = field(default_factory=dict)  # extra per-box columns

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        columns = {"confidence": self.confidence, "class_id": self.class_id, "class_name": self.class_name}
        if self.tracker_id is not None:
            columns["tracker_id"] = self.tracker_id
        columns.update(self.data)
        for name, column in columns.items():
            if len(column) != n:
                raise ValueError(f"{name} has {len(column)} rows, xyxy has {n}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), dtype=np.float32),
            confidence=np.zeros(0, dtype=np.float32),
            class_id=np.zeros(0, dtype=np.int64),
            class_name=np.zeros(0, dtype=object),
        )

    @classmethod
    def from_lists(
        cls,
        xyxy: Sequence[Sequence[float]],
        confidence: Sequence[float],
        class_name: Sequence[str],
        class_id: Sequence[int] | None = None,
        tracker_id: Sequence[int] | None = None,
    ) -> Detections:
        """Build from plain lists (tests, scripted streams)."""
        if len(xyxy) == 0:
            return cls.empty()
        names = np.asarray(list(class_name), dtype=object)
        ids = np.asarray(class_id if class_id is not None else [0] * len(names), dtype=np.int64)
        return cls(
            xyxy=np.asarray(xyxy, dtype=np.float32).reshape(-1, 4),
            confidence=np.asarray(confidence, dtype=np.float32),
            class_id=ids,
            class_name=names,
            tracker_id=None if tracker_id is None else np.asarray(tracker_id, dtype=np.int64),
        )

    @classmethod
    def merge(cls, parts: Sequence[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        with_ids = all(p.tracker_id is not None for p in parts)
        keys = set.intersection(*(set(p.data) for p in parts)) if parts else set()
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]).astype(np.float32),
            confidence=np.concatenate([p.confidence for p in parts]).astype(np.float32),
            class_id=np.concatenate([p.class_id for p in parts]).astype(np.int64),
            class_name=np.concatenate([p.class_name for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]) if with_ids else None,  # type: ignore[misc]
            data={k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | int) -> Detections:
        """Select rows by boolean mask, index array, slice or single int (kept 2-D)."""
        if isinstance(index, int | np.integer):
            index = np.array([index])
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            class_name=self.class_name[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
            data={k: v[index] for k, v in self.data.items()},
        )

    def with_tracker_ids(self, tracker_id: np.ndarray) -> Detections:
        return replace(self, tracker_id=np.asarray(tracker_id, dtype=np.int64))

    def of_classes(self, names: Sequence[str]) -> Detections:
        """Only the rows whose class name is one of `names`."""
        return self[np.isin(self.class_name, list(names))]

    @property
    def foot_points(self) -> np.ndarray:
        """(N, 2) bottom-centre of each box: where a person stands."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @property
    def centers(self) -> np.ndarray:
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2], 1)

    @property
    def area(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]).clip(0) * (self.xyxy[:, 3] - self.xyxy[:, 1]).clip(0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes → (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod((br - tl).clip(0), axis=2)
    area_a = np.prod((a[:, 2:] - a[:, :2]).clip(0), axis=1)
    area_b = np.prod((b[:, 2:] - b[:, :2]).clip(0), axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
