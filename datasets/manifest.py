"""Manifests of the public datasets we evaluate on: source, licence, attribution, class map, counts.

The datasets themselves are never in the repository; a manifest says how to obtain one and what a correct
copy contains, so `tests/datasets/test_manifests.py` can check a local copy against it.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from autofine.errors import UserError

MANIFEST_DIR = Path(__file__).parent / "manifests"


class SplitCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    images: int = Field(default=0, ge=0, description="Image files in the split.")
    labelled_images: int = Field(default=0, ge=0, description="Images with at least one box.")
    boxes: dict[str, int] = Field(default_factory=dict, description="Boxes per class name.")


class DatasetManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="", description="Short id, also the manifest's file name.")
    title: str = Field(default="", description="Human-readable name.")
    format: str = Field(default="yolo", pattern="^(yolo|coco)$", description="Format of the local copy.")
    source_urls: list[str] = Field(default_factory=list, description="Where the public dataset comes from.")
    obtain: str = Field(default="", description="How to get a local copy, step by step.")
    licence: str = Field(default="", description="Licence of the annotations (and images where known).")
    attribution: str = Field(default="", description="Attribution line required by the licence.")
    data_yaml: str = Field(default="", description="Path of data.yaml relative to the dataset root.")
    eval_split: str = Field(default="val", description="Split to report numbers on.")
    names: list[str] = Field(default_factory=list, description="Class names in class-id order.")
    class_map: dict[str, str] = Field(
        default_factory=dict, description="Dataset class → autofine concept (person, litter, cigarette)."
    )
    counts: dict[str, SplitCounts] = Field(default_factory=dict, description="Expected counts per split key.")
    notes: str = Field(default="", description="Caveats (e.g. training images of pretrained models).")


def load_manifest(name_or_path: str | Path) -> DatasetManifest:
    path = Path(name_or_path)
    if not path.suffix:
        path = MANIFEST_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in MANIFEST_DIR.glob("*.yaml"))
        raise UserError(f"dataset manifest {name_or_path!r} not found; known: {', '.join(known)}")
    return DatasetManifest.model_validate(yaml.safe_load(path.read_text()))


def manifests() -> list[DatasetManifest]:
    return [load_manifest(p) for p in sorted(MANIFEST_DIR.glob("*.yaml"))]
