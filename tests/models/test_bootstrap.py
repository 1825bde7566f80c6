"""The offline bootstrap: the fall ONNX's weights in an ultralytics YOLOv8s reproduce the ONNX output."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

pytest.importorskip("ultralytics")
pytestmark = pytest.mark.train

from models.training import bootstrap  # noqa: E402
from models.training.offline import prepare_offline_ultralytics  # noqa: E402


@pytest.fixture(scope="module")
def fall_onnx() -> Path:
    prepare_offline_ultralytics()
    return bootstrap.fall_onnx()


@pytest.fixture(scope="module")
def cigarette_images(shared_dir: Path) -> list[Path]:
    return bootstrap.calibration_images(shared_dir / "datasets" / "cigarettes" / "images" / "train", count=16)


@pytest.fixture(scope="module")
def fused(fall_onnx: Path):
    return bootstrap.load_fused_onnx(fall_onnx)


def test_pytorch_model_reproduces_the_onnx_output(fall_onnx, fused, cigarette_images) -> None:
    images = bootstrap.image_batch(cigarette_images[:2], 640)
    assert images.shape == (2, 3, 640, 640)
    difference = bootstrap.max_output_difference(fused, fall_onnx, images)
    assert difference < 1e-2  # boxes are on the 0..640 pixel scale; measured 5e-4


def test_calibrated_batchnorm_keeps_eval_output_and_matches_train_mode(
    fall_onnx, fused, cigarette_images
) -> None:
    import torch

    model = copy.deepcopy(fused)
    batch = bootstrap.image_batch(cigarette_images, 320)
    bootstrap.calibrate_batchnorm(model, batch)
    bn = model.model[0].bn
    assert not torch.allclose(bn.weight, torch.ones_like(bn.weight))  # really calibrated, not identity
    assert (
        bootstrap.max_output_difference(model, fall_onnx, bootstrap.image_batch(cigarette_images[:1], 640))
        < 1e-2
    )
    with torch.no_grad():
        evaluated = model.eval()(torch.from_numpy(batch))[1]
        trained = copy.deepcopy(model).train()(torch.from_numpy(batch))
    compared = 0
    for key in ("boxes", "scores"):  # raw head outputs (ultralytics 8.4 returns a dict in train mode)
        # train-mode BN renormalises by this batch's statistics, which are the calibration statistics
        scale = evaluated[key].abs().max().item()
        assert (evaluated[key] - trained[key]).abs().max().item() < 1e-2 * scale
        compared += evaluated[key].numel()
    assert compared > 0


def test_new_classes_keep_the_features_and_start_the_class_convs_fresh(fused, tmp_path) -> None:
    import torch
    from ultralytics import YOLO

    model = bootstrap.with_classes(fused, {0: "cigarette"})
    assert model.model[-1].nc == 1 and model.names == {0: "cigarette"}
    assert torch.equal(model.model[4].cv1.conv.weight, fused.model[4].cv1.conv.weight)
    assert model.model[22].cv3[0][2].weight.shape[0] == 1  # one class out
    path = bootstrap.save_checkpoint(model, tmp_path / "boot.pt", "test")
    loaded = YOLO(str(path))
    assert loaded.names == {0: "cigarette"}
