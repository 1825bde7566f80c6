"""Low-resolution copies of a YOLO dataset's training photos, for detectors that run on enlarged small crops.

A street camera sees a far smoker as a few dozen pixels that the upper-body crop enlarges to the model input;
training on close-up photos shrunk and enlarged back the same way teaches the model what that blur looks like.

`python -m models.training.lowres --data ../shared/datasets/cigarettes/data.yaml --out
~/autofine-runs/cigarettes-lowres --size 512 --quality 82` made the copy behind cigarette model 0.3.0.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from autofine.errors import UserError
from datasets.formats import images_in, label_path, read_yolo_spec, yolo_split_folder

SPLITS = ("train", "val", "test")  # data.yaml keys; only `train` images are ever degraded
JPEG_SUFFIXES = (".jpg", ".jpeg")
MIN_SIDE_PX = 8  # a degraded image is never shrunk below this (cv2 needs a few pixels to enlarge from)


@dataclass(frozen=True)
class LowresReport:
    data_yaml: Path  # the copy's data.yaml
    images: dict[str, int]  # images written per data.yaml split key ("train", "val", ...)
    degraded: int  # train images shrunk and enlarged back
    labels: int  # label files copied (images without one stay background, as in the source)


def _check_options(share: float, min_scale: float, max_scale: float, size: int, quality: int) -> None:
    if not 0.0 <= share <= 1.0:
        raise UserError(f"share {share} is not in [0, 1]; pass the fraction of train images to degrade")
    if not 0.0 < min_scale <= max_scale <= 1.0:
        raise UserError(
            f"scales {min_scale}..{max_scale} are not 0 < min-scale <= max-scale <= 1; e.g. 0.1 and 0.6"
        )
    if size < 0:
        raise UserError(f"size {size} is negative; pass the long side in pixels, or 0 to keep each image's")
    if not 1 <= quality <= 100:
        raise UserError(f"JPEG quality {quality} is not in 1..100; 95 keeps almost everything")


def make_lowres_copy(
    data: Path,
    out: Path,
    share: float = 0.5,
    min_scale: float = 0.1,
    max_scale: float = 0.6,
    size: int = 0,
    quality: int = 95,
    seed: int = 0,
    overwrite: bool = False,
) -> LowresReport:
    """Copy the dataset at `data` to `out`, a `share` of its train images shrunk by k ~ U(min, max scale).

    Each chosen train image is shrunk (area interpolation, as a camera's sensor averages light) and enlarged
    back (bilinear, as the crop's letterbox does); labels are normalised, so they are copied unchanged. Every
    image is then resized to `size` px on its long side (0: kept). Images are visited sorted, train first,
    with `random.Random(seed)`, so the same arguments give the same bytes. `out/lowres.json` lists each
    degraded image and its scale.
    """
    import cv2

    _check_options(share, min_scale, max_scale, size, quality)
    data, out = Path(data).expanduser(), Path(out).expanduser()
    spec = read_yolo_spec(data)
    if "train" not in spec.splits:
        raise UserError(f"{data} has no `train:` folder; point it at the training images")
    if out.resolve() == spec.root.resolve():
        raise UserError(f"--out {out} is the source dataset's folder; pass a new folder")
    if (out / "data.yaml").exists() and not overwrite:
        raise UserError(f"{out} already holds a data.yaml; pass a new --out folder, or --overwrite")

    folders = {split: yolo_split_folder(spec, split) for split in SPLITS if split in spec.splits}
    # the copy keeps the source's folder names (images/train, images/valid); 'train/images' layouts → 'train'
    names = {split: f.name if f.name != "images" else f.parent.name for split, f in folders.items()}
    if len(set(names.values())) != len(names):
        raise UserError(f"{data}: splits {sorted(folders)} share a folder name; give each its own folder")
    previous = [out / kind / name for kind in ("images", "labels") for name in names.values()]
    previous = [folder for folder in previous if folder.is_dir() and any(folder.iterdir())]
    if previous and not overwrite:
        raise UserError(f"{previous[0]} is not empty; pass a new --out folder, or --overwrite")
    for folder in previous:  # an overwrite must not leave a previous run's images behind
        shutil.rmtree(folder)

    rng = random.Random(seed)
    written: dict[str, int] = {}
    degraded: dict[str, float] = {}
    labels = 0
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, quality]
    for split, folder in folders.items():
        images = images_in(folder)
        if not images:
            raise UserError(f"no images in {folder} ({split} of {data}); fix `{split}:` in {data}")
        for path in images:
            image = cv2.imread(str(path))
            if image is None:
                raise UserError(f"{path} is not a readable image; remove it from the dataset or replace it")
            h, w = image.shape[:2]
            relative = path.relative_to(folder)
            if split == "train" and rng.random() < share:
                k = rng.uniform(min_scale, max_scale)
                small = (max(MIN_SIDE_PX, round(w * k)), max(MIN_SIDE_PX, round(h * k)))
                image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
                degraded[f"{names[split]}/{relative.as_posix()}"] = round(k, 6)
            r = size / max(h, w) if size else 1.0
            target = (round(w * r), round(h * r))
            if (image.shape[1], image.shape[0]) != target:
                interpolation = cv2.INTER_AREA if w * r <= image.shape[1] else cv2.INTER_LINEAR
                image = cv2.resize(image, target, interpolation=interpolation)
            image_out = out / "images" / names[split] / relative
            image_out.parent.mkdir(parents=True, exist_ok=True)
            params = jpeg if path.suffix.lower() in JPEG_SUFFIXES else []
            if not cv2.imwrite(str(image_out), image, params):
                raise UserError(f"could not write {image_out}; check the disk space and permissions of {out}")
            label = label_path(path)
            if label.is_file():
                label_out = label_path(image_out)
                label_out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(label, label_out)
                labels += 1
            written[split] = written.get(split, 0) + 1

    data_out = out / "data.yaml"
    header = (
        f"# Low-resolution copy of {data.resolve()} (models.training.lowres): share {share} of train images\n"
        f"# shrunk by k ~ U({min_scale}, {max_scale}) and enlarged back; size {size}, quality {quality}, "
        f"seed {seed}.\n"
    )
    body = {split: f"images/{name}" for split, name in names.items()}
    body["names"] = spec.names
    data_out.write_text(header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True))
    record = {
        "source": str(data.resolve()),
        "share": share,
        "min_scale": min_scale,
        "max_scale": max_scale,
        "size": size,
        "quality": quality,
        "seed": seed,
        "images": written,
        "degraded": degraded,
    }
    (out / "lowres.json").write_text(json.dumps(record, indent=1))
    return LowresReport(data_out, written, len(degraded), labels)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="source YOLO data.yaml")
    parser.add_argument("--out", type=Path, required=True, help="new folder for the copy")
    parser.add_argument("--share", type=float, default=0.5, help="fraction of train images degraded")
    parser.add_argument("--min-scale", type=float, default=0.1)
    parser.add_argument("--max-scale", type=float, default=0.6)
    parser.add_argument("--size", type=int, default=0, help="long side in px of every image (0: keep)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality of the written images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace a previous copy in --out")
    args = parser.parse_args(argv)
    try:
        report = make_lowres_copy(
            args.data,
            args.out,
            share=args.share,
            min_scale=args.min_scale,
            max_scale=args.max_scale,
            size=args.size,
            quality=args.quality,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
    counts = ", ".join(f"{split} {n}" for split, n in report.images.items())
    print(f"wrote {report.data_yaml}: {counts} images, {report.degraded} train images degraded")


if __name__ == "__main__":
    main()
