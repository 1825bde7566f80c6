"""The two steps behind cigarette model 0.3.0: a low-resolution dataset copy, then a two-checkpoint average.

Real photos from ../shared/datasets/cigarettes; real (untrained, download-free) ultralytics models to average.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from autofine.errors import UserError
from datasets.formats import load_yolo
from models.training.lowres import main as lowres_main
from models.training.lowres import make_lowres_copy

SPLIT_FOLDERS = {"train": "train", "val": "valid"}
PICKS = {"train": (5, 1), "valid": (2, 1)}  # (labelled photos, background photos with an empty label file)


@pytest.fixture(scope="module")
def source(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 train + 3 valid copy of the real cigarette dataset, each split with one empty label file."""
    real = shared_dir / "datasets" / "cigarettes"
    root = tmp_path_factory.mktemp("cigarettes")
    for split, (labelled, background) in PICKS.items():
        labels = sorted((real / "labels" / split).glob("*.txt"))
        chosen = [p for p in labels if p.stat().st_size][::97][:labelled]
        chosen += [p for p in labels if not p.stat().st_size][:background]
        for label in chosen:
            for kind, suffix in (("labels", ".txt"), ("images", ".jpg")):
                (root / kind / split).mkdir(parents=True, exist_ok=True)
                shutil.copy(real / kind / split / f"{label.stem}{suffix}", root / kind / split)
    (root / "data.yaml").write_text("train: images/train\nval: images/valid\nnames:\n  0: cigarette\n")
    return root / "data.yaml"


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def assert_only_reencoded(original: np.ndarray, copied: np.ndarray) -> None:
    # measured on these photos: re-encoded at quality 95 differ by 0.1-0.5 grey levels on average and keep
    # their sharpness (ratio 0.998-1.002); degraded ones differ by only 1-3.5 levels (blur keeps the colours)
    # but keep 0.07-0.22 of their sharpness, so sharpness is what tells them apart
    assert np.abs(copied.astype(int) - original.astype(int)).mean() < 1
    assert 0.95 < sharpness(copied) / sharpness(original) < 1.05


def test_share_one_degrades_every_train_photo_and_no_valid_photo(source: Path, tmp_path: Path) -> None:
    report = make_lowres_copy(source, tmp_path / "out", share=1.0)
    out = tmp_path / "out"

    assert report.data_yaml == out / "data.yaml"
    assert report.images == {"train": 6, "val": 3}
    assert report.degraded == 6
    assert report.labels == 9
    compared = 0
    for split, folder in SPLIT_FOLDERS.items():
        for original in sorted((source.parent / "images" / folder).glob("*.jpg")):
            label = source.parent / "labels" / folder / f"{original.stem}.txt"
            assert (out / "labels" / folder / label.name).read_bytes() == label.read_bytes()
            before = cv2.imread(str(original))
            after = cv2.imread(str(out / "images" / folder / original.name))
            assert after.shape == before.shape  # size 0 keeps each photo's size
            if split == "val":
                assert_only_reencoded(before, after)
            else:  # shrunk to at most 0.6 and enlarged back: most edges are gone
                assert sharpness(after) < 0.5 * sharpness(before)
            compared += 1
    assert compared == 9

    assert yaml.safe_load(report.data_yaml.read_text()) == {
        "train": "images/train",
        "val": "images/valid",
        "names": {0: "cigarette"},
    }
    record = json.loads((out / "lowres.json").read_text())
    assert len(record["degraded"]) == 6
    assert all(0.1 <= k <= 0.6 and name.startswith("train/") for name, k in record["degraded"].items())
    for split in SPLIT_FOLDERS:  # normalised labels on same-size images: the same pixel boxes
        copied, original = load_yolo(report.data_yaml, split), load_yolo(source, split)
        assert copied.names == original.names == {0: "cigarette"}
        assert [p.name for p in (im.path for im in copied.images)] == [im.path.name for im in original.images]
        assert copied.box_count == original.box_count > 0
        for a, b in zip(copied.images, original.images, strict=True):
            np.testing.assert_allclose(a.xyxy, b.xyxy)


def test_half_share_follows_the_seeded_sequence_and_is_reproducible(source: Path, tmp_path: Path) -> None:
    reports = {
        name: make_lowres_copy(source, tmp_path / name, share=0.5, seed=seed)
        for name, seed in (("first", 7), ("again", 7), ("other", 3))
    }
    train = sorted(p.name for p in (source.parent / "images" / "train").glob("*.jpg"))

    def expected(seed: int) -> dict[str, float]:  # the sequence the shipped 0.3.0 copy was drawn with
        rng = random.Random(seed)
        chosen = {}
        for name in train:
            if rng.random() < 0.5:
                chosen[f"train/{name}"] = round(rng.uniform(0.1, 0.6), 6)
        return chosen

    degraded = {
        name: json.loads((tmp_path / name / "lowres.json").read_text())["degraded"] for name in reports
    }
    assert degraded["first"] == expected(7)
    assert degraded["other"] == expected(3)
    assert 0 < len(degraded["first"]) < 6  # the seed picks a real subset: both branches are exercised
    assert degraded["first"] != degraded["other"]
    assert reports["first"].degraded == len(degraded["first"])
    assert files(tmp_path / "first") == files(tmp_path / "again")
    assert len(files(tmp_path / "first")) == 6 + 3 + 9 + 2  # images, labels, data.yaml and lowres.json

    for name in train:  # chosen photos lost detail, the others are only re-encoded
        original = cv2.imread(str(source.parent / "images" / "train" / name))
        copied = cv2.imread(str(tmp_path / "first" / "images" / "train" / name))
        if f"train/{name}" in degraded["first"]:
            assert sharpness(copied) < 0.5 * sharpness(original)
        else:
            assert_only_reencoded(original, copied)


def test_size_and_quality_resize_every_photo(source: Path, tmp_path: Path, capsys) -> None:
    lowres_main(["--data", str(source), "--out", str(tmp_path / "small"), "--size", "320", "--quality", "82"])
    degraded = len(json.loads((tmp_path / "small" / "lowres.json").read_text())["degraded"])
    summary = capsys.readouterr().out.strip()
    assert summary.endswith(f"data.yaml: train 6, val 3 images, {degraded} train images degraded"), summary
    images = sorted((tmp_path / "small" / "images").rglob("*.jpg"))
    assert len(images) == 9
    assert {cv2.imread(str(p)).shape for p in images} == {(320, 320, 3)}  # the real photos are 640×640
    dataset = load_yolo(tmp_path / "small" / "data.yaml", "val")
    original = load_yolo(source, "val")
    for a, b in zip(dataset.images, original.images, strict=True):
        np.testing.assert_allclose(a.xyxy * 2, b.xyxy, atol=1e-6)


def test_a_relative_data_path_resolves_from_the_yaml_folder(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--data ../shared/datasets/cigarettes/data.yaml` (no `path:` key) once looked for images under
    # ../shared/datasets/cigarettes/../shared/datasets/cigarettes
    monkeypatch.chdir(source.parent.parent)
    report = make_lowres_copy(Path(source.parent.name) / "data.yaml", tmp_path / "copy", share=0.0)
    assert report.images == {"train": 6, "val": 3} and report.degraded == 0


def test_bad_input_is_refused_with_the_fix(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(UserError, match="dataset file .*missing.yaml not found"):
        make_lowres_copy(tmp_path / "missing.yaml", out)
    with pytest.raises(UserError, match=r"share 1.5 is not in \[0, 1\]"):
        make_lowres_copy(source, out, share=1.5)
    for low, high in ((0.6, 0.1), (0.0, 0.5), (0.1, 1.5)):
        with pytest.raises(UserError, match="0 < min-scale <= max-scale <= 1"):
            make_lowres_copy(source, out, min_scale=low, max_scale=high)
    with pytest.raises(UserError, match="is the source dataset's folder"):
        make_lowres_copy(source, source.parent, overwrite=True)
    assert not out.exists()  # nothing was written before the checks

    make_lowres_copy(source, out, share=0.0)
    stale = out / "images" / "train" / "stale.jpg"
    shutil.copy(next(iter(sorted((out / "images" / "train").glob("*.jpg")))), stale)
    with pytest.raises(UserError, match="already holds a data.yaml; pass a new --out folder"):
        make_lowres_copy(source, out)
    with pytest.raises(SystemExit, match="^error: .*already holds a data.yaml"):
        lowres_main(["--data", str(source), "--out", str(out)])
    report = make_lowres_copy(source, out, share=1.0, overwrite=True)
    assert report.degraded == 6
    assert not stale.exists()  # an overwrite leaves no image of the previous copy behind


# ---------------------------------------------------------------------------------------------------- soup


def save_checkpoint(model, path: Path) -> Path:
    """What a stripped ultralytics checkpoint holds (model in fp16, no optimizer)."""
    import torch

    model = copy.deepcopy(model)
    torch.save(
        {
            "model": model.half(),
            "ema": None,
            "optimizer": None,
            "epoch": -1,
            "train_args": {"task": "detect", "imgsz": 160, "data": "cigarettes.yaml"},
        },
        path,
    )
    return path


def detection_model(config: str, seed: int):
    import torch
    from ultralytics.cfg import DEFAULT_CFG_DICT
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(seed)
    model = DetectionModel(config, nc=1, verbose=False)
    model.names = {0: "cigarette"}
    model.args = dict(DEFAULT_CFG_DICT)
    return model


@pytest.fixture(scope="module")
def lineage(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A: a fresh yolov8n; B: A "fine-tuned" (weights moved, BN statistics updated on real photos)."""
    pytest.importorskip("ultralytics")
    from models.training.offline import prepare_offline_ultralytics

    prepare_offline_ultralytics()
    import torch

    folder = tmp_path_factory.mktemp("soup")
    model_a = detection_model("yolov8n.yaml", seed=0)
    model_b = copy.deepcopy(model_a)
    with torch.no_grad():
        for parameter in model_b.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
        photos = sorted((shared_dir / "datasets" / "cigarettes" / "images" / "valid").glob("*.jpg"))[:2]
        batch = np.stack([cv2.resize(cv2.imread(str(p)), (160, 160))[:, :, ::-1] for p in photos])
        model_b.train()
        model_b(torch.from_numpy(batch.copy()).permute(0, 3, 1, 2).float() / 255)  # BN running stats move
    return save_checkpoint(model_a, folder / "a.pt"), save_checkpoint(model_b, folder / "b.pt")


def state(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)["model"].float().state_dict()


@pytest.mark.train
def test_soup_is_the_weighted_average_and_runs_in_ultralytics(
    lineage: tuple[Path, Path], shared_dir: Path, tmp_path: Path
) -> None:
    import onnxruntime as ort
    import torch
    from ultralytics import YOLO

    from models.training.export import export_onnx
    from models.training.soup import average_checkpoints
    from models.training.soup import main as soup_main

    a, b = lineage
    out = average_checkpoints(a, b, tmp_path / "soup.pt")
    sa, sb, ss = state(a), state(b), state(out)
    assert sa.keys() == ss.keys()
    floats = [k for k, v in sa.items() if v.is_floating_point()]
    counters = [k for k in sa if k.endswith("num_batches_tracked")]
    assert len(floats) > 200 and len(counters) > 50
    assert any(not torch.equal(sa[k], sb[k]) for k in counters)  # B's BN saw a batch, A's did not
    for key in floats:
        torch.testing.assert_close(ss[key], (sa[key] + sb[key]) / 2, rtol=1e-3, atol=1e-4)
    for key in counters:
        assert torch.equal(ss[key], sa[key])
    assert torch.load(out, weights_only=False)["model"].model[0].conv.weight.dtype == torch.float16

    checkpoint = torch.load(out, map_location="cpu", weights_only=False)
    assert checkpoint["soup"]["a"] == "a.pt" and checkpoint["soup"]["b"] == "b.pt"
    assert checkpoint["soup"]["weight_a"] == 0.5
    assert checkpoint["ema"] is None and checkpoint["optimizer"] is None and checkpoint["epoch"] == -1
    assert checkpoint["train_args"]["data"] == "cigarettes.yaml"  # the rest is A's

    soup_main([str(a), str(b), "--out", str(tmp_path / "only_a.pt"), "--weight-a", "1"])
    only_a = state(tmp_path / "only_a.pt")
    assert all(torch.equal(only_a[key], sa[key]) for key in sa)

    model = YOLO(str(out))
    assert model.names == {0: "cigarette"}
    photo = sorted((shared_dir / "datasets" / "cigarettes" / "images" / "valid").glob("*.jpg"))[0]
    results = model.predict(str(photo), imgsz=160, verbose=False)
    assert len(results) == 1 and results[0].boxes is not None
    assert results[0].orig_shape == cv2.imread(str(photo)).shape[:2]

    onnx = export_onnx(out, tmp_path / "soup.onnx", 160, {"soup": "a.pt+b.pt"}, dynamic=True)
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    (output,) = session.run(None, {name: np.random.default_rng(0).random((2, 3, 160, 224), np.float32)})
    assert output.shape == (2, 5, (20 * 28 + 10 * 14 + 5 * 7))  # dynamic batch and size, 1 class + box


@pytest.mark.train
def test_soup_refuses_checkpoints_of_different_architectures(
    lineage: tuple[Path, Path], tmp_path: Path
) -> None:
    from models.training.soup import average_checkpoints
    from models.training.soup import main as soup_main

    a, _ = lineage
    small = save_checkpoint(detection_model("yolov8s.yaml", seed=0), tmp_path / "s.pt")
    with pytest.raises(
        UserError, match=r"a.pt and s.pt differ in 'model.0.conv.weight' \(\(16, 3, 3, 3\) vs"
    ):
        average_checkpoints(a, small, tmp_path / "out.pt")
    p2 = save_checkpoint(detection_model("yolov8n-p2.yaml", seed=0), tmp_path / "p2.pt")
    with pytest.raises(UserError, match=r"differ in layer 'model\.\d+\.[^']+' \(\d+ keys\); average only"):
        average_checkpoints(a, p2, tmp_path / "out.pt")
    litter = detection_model("yolov8n.yaml", seed=0)
    litter.names = {0: "bottle"}
    with pytest.raises(UserError, match=r"have different classes \(\{0: 'cigarette'\} vs \{0: 'bottle'\}\)"):
        average_checkpoints(a, save_checkpoint(litter, tmp_path / "litter.pt"), tmp_path / "out.pt")
    with pytest.raises(SystemExit, match=r"^error: weight_a 1.5 is not in \[0, 1\]"):
        soup_main([str(a), str(a), "--out", str(tmp_path / "out.pt"), "--weight-a", "1.5"])
    with pytest.raises(UserError, match="checkpoint .*missing.pt not found"):
        average_checkpoints(a, tmp_path / "missing.pt", tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()
