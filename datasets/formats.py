"""Box datasets in the two formats people ship them in: ultralytics YOLO (`data.yaml` + txt) and COCO JSON.

Both load into one `BoxDataset` (pixel xyxy boxes, class ids indexing `names`), so evaluation never cares
which format a dataset came in, and each can be written out as the other (`to_coco`, `write_yolo`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from autofine.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class LabelledImage:
    """One image and its ground-truth boxes."""

    path: Path
    width: int
    height: int
    xyxy: np.ndarray  # (N, 4) float64, pixels
    class_id: np.ndarray  # (N,) int64, index into BoxDataset.names
    iscrowd: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (N,) COCO crowd regions

    def __post_init__(self) -> None:
        if len(self.iscrowd) != len(self.xyxy):
            object.__setattr__(self, "iscrowd", np.zeros(len(self.xyxy), dtype=bool))


@dataclass(frozen=True)
class BoxDataset:
    """Images with boxes. `names[class_id]` is the class name; ids are contiguous from 0."""

    names: dict[int, str]
    images: tuple[LabelledImage, ...]
    source: str = ""

    @property
    def box_count(self) -> int:
        return sum(len(im.xyxy) for im in self.images)

    def class_counts(self) -> dict[str, int]:
        counts = {name: 0 for name in self.names.values()}
        for im in self.images:
            for cid in im.class_id:
                counts[self.names[int(cid)]] += 1
        return counts

    def renamed(self, class_map: Mapping[str, str]) -> BoxDataset:
        """Rename classes (e.g. `pedestrian` → `person`); classes mapped to one name are merged."""
        new_names: list[str] = []
        for old in self.names.values():
            new = class_map.get(old, old)
            if new not in new_names:
                new_names.append(new)
        old_to_new = np.array([new_names.index(class_map.get(n, n)) for _, n in sorted(self.names.items())])
        images = tuple(
            LabelledImage(im.path, im.width, im.height, im.xyxy, old_to_new[im.class_id], im.iscrowd)
            if len(im.class_id)
            else im
            for im in self.images
        )
        return BoxDataset(dict(enumerate(new_names)), images, self.source)

    def head(self, n: int) -> BoxDataset:
        """The first `n` images (sorted by file name), for quick runs."""
        return BoxDataset(self.names, self.images[:n], self.source)


def parse_class_map(text: str | None) -> dict[str, str]:
    """`'Normal=person,Fall=person'` → `{'Normal': 'person', 'Fall': 'person'}`."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise UserError(f"class map item {item!r} has no '='; write it as FROM=TO, e.g. 'Normal=person'")
        old, new = (part.strip() for part in item.split("=", 1))
        if not old or not new:
            raise UserError(f"class map item {item!r} needs a name on both sides of '='")
        mapping[old] = new
    return mapping


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image  # header only, no decode

    with Image.open(path) as im:
        return im.size


def images_in(folder: Path) -> list[Path]:
    """The image files under `folder`, sorted (the order a seeded pass over them relies on)."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _images_for_split(root: Path, entry: str | Sequence[str]) -> list[Path]:
    entries = [entry] if isinstance(entry, str) else list(entry)
    images: list[Path] = []
    for item in entries:
        p = Path(item)
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            images += images_in(p)
        elif p.suffix == ".txt" and p.is_file():
            for line in p.read_text().splitlines():
                if line.strip():
                    q = Path(line.strip())
                    images.append(q if q.is_absolute() else root / q)
        else:
            raise UserError(f"split entry {item!r} not found at {p}; fix the path in data.yaml")
    return images


def label_path(image: Path) -> Path:
    parts = list(image.parts)
    # ultralytics convention: the last 'images' folder in the path becomes 'labels'
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


@dataclass(frozen=True)
class YoloSpec:
    """A parsed ultralytics data.yaml: class names, the folder its split entries count from, the entries."""

    data_yaml: Path
    names: dict[int, str]
    root: Path
    splits: dict[str, str | list[str]]


def read_yolo_spec(data_yaml: str | Path) -> YoloSpec:
    """Parse and check an ultralytics data.yaml (a relative `path:`, or none, counts from its folder)."""
    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise UserError(f"dataset file {data_yaml} not found; pass an ultralytics data.yaml (YOLO format)")
    data_yaml = data_yaml.resolve()
    spec = yaml.safe_load(data_yaml.read_text()) or {}
    if not isinstance(spec, dict) or not spec.get("names"):
        raise UserError(f"{data_yaml} has no 'names:'; it must list the class names")
    raw = spec["names"]
    names = {int(k): str(v) for k, v in (enumerate(raw) if isinstance(raw, list) else raw.items())}
    if sorted(names) != list(range(len(names))):
        raise UserError(f"{data_yaml}: class ids must be 0..{len(names) - 1}")
    root = data_yaml.parent / spec["path"] if spec.get("path") else data_yaml.parent
    splits = {k: v for k, v in spec.items() if k not in ("names", "path", "nc", "download") and v}
    return YoloSpec(data_yaml, names, root, splits)


def yolo_split_folder(spec: YoloSpec, split: str) -> Path:
    """The one images folder a split names (training copies its files; list-file splits are not folders)."""
    entry = spec.splits.get(split)
    if not isinstance(entry, str):
        raise UserError(f"{spec.data_yaml} has no single `{split}:` folder; point it at one folder of images")
    folder = Path(entry) if Path(entry).is_absolute() else spec.root / entry
    if not folder.is_dir():
        raise UserError(
            f"{split} images folder {folder} (from {spec.data_yaml}) does not exist; fix `{split}:` there"
        )
    return folder


def load_yolo(data_yaml: str | Path, split: str = "val") -> BoxDataset:
    """Load one split of an ultralytics-format dataset (`data.yaml` with `names` and split folders)."""
    spec = read_yolo_spec(data_yaml)
    data_yaml, names = spec.data_yaml, spec.names
    if split not in spec.splits:
        raise UserError(f"{data_yaml} has no split {split!r}; it has {list(spec.splits)}")
    images = []
    for path in _images_for_split(spec.root, spec.splits[split]):
        width, height = _image_size(path)
        label = label_path(path)
        rows = np.zeros((0, 5))
        if label.is_file():
            text = label.read_text().split()
            if text:
                values = np.asarray(text, dtype=np.float64)
                if values.size % 5:
                    raise UserError(f"{label}: each line must be 'class cx cy w h' (normalised)")
                rows = values.reshape(-1, 5)
        cx, cy, w, h = rows[:, 1] * width, rows[:, 2] * height, rows[:, 3] * width, rows[:, 4] * height
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).reshape(-1, 4)
        images.append(LabelledImage(path, width, height, xyxy, rows[:, 0].astype(np.int64)))
    if not images:
        raise UserError(f"no images found for split {split!r} of {data_yaml}")
    return BoxDataset(names, tuple(images), str(data_yaml))


def load_coco(json_path: str | Path, images_dir: str | Path | None = None) -> BoxDataset:
    """Load a COCO detection JSON; image files are looked up under `images_dir` (default: its folder)."""
    json_path = Path(json_path)
    if not json_path.is_file():
        raise UserError(f"COCO file {json_path} not found")
    json_path = json_path.resolve()
    spec = json.loads(json_path.read_text())
    for key in ("images", "annotations", "categories"):
        if key not in spec:
            raise UserError(f"{json_path} is not COCO detection JSON: no {key!r}")
    base = Path(images_dir) if images_dir else json_path.parent
    cats = sorted(spec["categories"], key=lambda c: c["id"])
    cat_index = {c["id"]: i for i, c in enumerate(cats)}
    by_image: dict[int, list[dict]] = {im["id"]: [] for im in spec["images"]}
    for ann in spec["annotations"]:
        by_image[ann["image_id"]].append(ann)
    images = []
    for im in sorted(spec["images"], key=lambda i: i["file_name"]):
        anns = by_image[im["id"]]
        xywh = np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        images.append(
            LabelledImage(
                base / im["file_name"],
                int(im["width"]),
                int(im["height"]),
                xyxy,
                np.asarray([cat_index[a["category_id"]] for a in anns], dtype=np.int64),
                np.asarray([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool),
            )
        )
    return BoxDataset({i: c["name"] for i, c in enumerate(cats)}, tuple(images), str(json_path))


def load_dataset(path: str | Path, split: str = "val") -> BoxDataset:
    """A `data.yaml` (YOLO) or `*.json` (COCO) → `BoxDataset`."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return load_coco(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return load_yolo(path, split)
    raise UserError(f"{path}: expected an ultralytics data.yaml or a COCO .json file")


def to_coco(dataset: BoxDataset) -> dict:
    """COCO ground-truth dict: image ids 1..N in dataset order, category id = class id + 1."""
    images, annotations = [], []
    for image_id, im in enumerate(dataset.images, start=1):
        images.append({"id": image_id, "file_name": str(im.path), "width": im.width, "height": im.height})
        for box, cid, crowd in zip(im.xyxy, im.class_id, im.iscrowd, strict=True):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(cid) + 1,
                    "bbox": [float(box[0]), float(box[1]), w, h],
                    "area": w * h,
                    "iscrowd": int(crowd),
                }
            )
    categories = [{"id": cid + 1, "name": name} for cid, name in sorted(dataset.names.items())]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco(dataset: BoxDataset, out_json: str | Path) -> Path:
    """Write COCO JSON; image file names are relative to the JSON's folder, as COCO tools expect."""
    out_json = Path(out_json).resolve()
    out_json.parent.mkdir(parents=True, exist_ok=True)
    coco = to_coco(dataset)
    for image in coco["images"]:
        image["file_name"] = os.path.relpath(Path(image["file_name"]).resolve(), out_json.parent)
    out_json.write_text(json.dumps(coco))
    return out_json


def write_yolo(dataset: BoxDataset, out_dir: str | Path, split: str = "val") -> Path:
    """Write `out_dir/data.yaml` and `labels/<split>/*.txt`; images are symlinked into `images/<split>/`."""
    out_dir = Path(out_dir)
    img_dir, lbl_dir = out_dir / "images" / split, out_dir / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    for im in dataset.images:
        link = img_dir / im.path.name
        if not link.exists():
            link.symlink_to(im.path.resolve())
        lines = []
        for box, cid in zip(im.xyxy, im.class_id, strict=True):
            cx, cy = (box[0] + box[2]) / 2 / im.width, (box[1] + box[3]) / 2 / im.height
            w, h = (box[2] - box[0]) / im.width, (box[3] - box[1]) / im.height
            lines.append(f"{int(cid)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        (lbl_dir / im.path.with_suffix(".txt").name).write_text("\n".join(lines) + ("\n" if lines else ""))
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump({split: f"images/{split}", "names": dict(dataset.names)}, sort_keys=False)
    )
    return data_yaml
