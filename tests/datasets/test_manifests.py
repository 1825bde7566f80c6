"""Each manifest must describe the local copy of its dataset exactly (names, images, boxes per class)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autofine.errors import UserError
from datasets.formats import load_yolo
from datasets.manifest import load_manifest, manifests


def test_three_manifests_with_licence_and_source() -> None:
    found = manifests()
    assert sorted(m.id for m in found) == ["cigarettes", "coco128", "litter"]
    for m in found:
        assert m.licence and m.attribution and m.source_urls and m.obtain
        assert set(m.class_map) <= set(m.names)


@pytest.mark.parametrize("name", ["coco128", "cigarettes", "litter"])
def test_manifest_matches_local_copy(name: str, shared_dir: Path) -> None:
    manifest = load_manifest(name)
    data_yaml = shared_dir / "datasets" / name / manifest.data_yaml
    compared = 0
    for split, expected in manifest.counts.items():
        dataset = load_yolo(data_yaml, split)
        assert list(dataset.names.values()) == manifest.names
        assert len(dataset.images) == expected.images
        assert sum(len(im.xyxy) > 0 for im in dataset.images) == expected.labelled_images
        counts = dataset.class_counts()
        for cls, n in expected.boxes.items():
            assert counts[cls] == n
            compared += 1
    assert compared >= 1


def test_unknown_manifest_names_the_known_ones() -> None:
    with pytest.raises(UserError, match="coco128"):
        load_manifest("nope")
