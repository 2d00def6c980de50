"""The FracAtlas release archive becomes a YOLO data set: the official fracture split, the other images by id
range (as the reference copy of FracAtlas was built), labels and bytes unchanged."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest
from fracatlas_archive import EXPECTED_SPLIT, build_release_zip

from bonefrac.data.fracatlas_release import assign_split, layout_release, split_by_id
from bonefrac.data.yolo_format import load_dataset
from bonefrac.errors import DatasetError


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_release_zip(tmp_path_factory.mktemp("release") / "FracAtlas.zip")


def test_layout_follows_the_official_split_and_the_id_ranges(release, tmp_path):
    summary = layout_release(release, tmp_path / "fa")
    placed = {p.name: p.parent.name for p in (tmp_path / "fa" / "images").glob("*/*.jpg")}
    assert placed == EXPECTED_SPLIT
    assert summary.images == {"train": 4, "val": 4, "test": 3}
    assert summary.fractured == {"train": 2, "val": 2, "test": 1}
    spec = load_dataset(summary.data_yaml)
    assert {split: len(images) for split, images in spec.splits.items()} == summary.images
    assert spec.class_names == ("fractured",)
    fractured_only = load_dataset(summary.fractured_only_yaml)
    assert sorted(p.name for p in fractured_only.splits["val"]) == ["IMG0003733.jpg", "IMG0004376.jpg"]


def test_images_and_labels_are_the_release_bytes(release, tmp_path):
    layout_release(release, tmp_path / "fa")
    with zipfile.ZipFile(release) as archive:
        image = archive.read("FracAtlas/images/Fractured/IMG0003297.jpg")
        label = archive.read("FracAtlas/Annotations/YOLO/IMG0003297.txt")
    assert (tmp_path / "fa" / "images" / "test" / "IMG0003297.jpg").read_bytes() == image
    assert (tmp_path / "fa" / "labels" / "test" / "IMG0003297.txt").read_bytes() == label and label
    assert (tmp_path / "fa" / "labels" / "test" / "IMG0003296.txt").read_bytes() == b""
    metadata = tmp_path / "fa" / "original_metadata"
    assert sorted(p.name for p in metadata.iterdir()) == [
        "dataset.csv",
        "fracture_split_test.csv",
        "fracture_split_train.csv",
        "fracture_split_valid.csv",
    ]
    readme = (tmp_path / "fa" / "README.md").read_text()
    assert "CC BY 4.0" in readme and "train id < 3296" in readme


def test_a_second_layout_replaces_the_first(release, tmp_path):
    layout_release(release, tmp_path / "fa")
    stray = tmp_path / "fa" / "images" / "train" / "IMG9999999.jpg"
    stray.write_bytes(b"old")
    layout_release(release, tmp_path / "fa")
    assert not stray.exists()


def test_another_archive_is_refused_with_what_is_missing(tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("photos/cat.jpg", b"x")
    with pytest.raises(DatasetError, match=r"not the FracAtlas release; missing images/Fractured/\*\.jpg"):
        layout_release(other, tmp_path / "fa")
    not_a_zip = tmp_path / "FracAtlas.zip"
    not_a_zip.write_bytes(b"<html>sign in</html>")
    with pytest.raises(DatasetError, match="not a readable zip archive"):
        layout_release(not_a_zip, tmp_path / "fa")


@pytest.mark.parametrize(
    ("image", "split"),
    [
        ("IMG0000000.jpg", "train"),
        ("IMG0003295.jpg", "train"),
        ("IMG0003296.jpg", "test"),
        ("IMG0003722.jpg", "test"),
        ("IMG0003723.jpg", "val"),
    ],
)
def test_id_ranges(image, split):
    assert split_by_id(image) == split


@pytest.mark.fracatlas
def test_the_rule_reproduces_the_reference_copy_of_fracatlas(fracatlas_yaml):
    root = fracatlas_yaml.parent
    official: dict[str, str] = {}
    for release_name, split in (("train", "train"), ("valid", "val"), ("test", "test")):
        with open(root / "original_metadata" / f"fracture_split_{release_name}.csv") as handle:
            official.update({row["image_id"]: split for row in csv.DictReader(handle)})
    placed = {p.name: p.parent.name for p in (root / "images").glob("*/*.jpg")}
    assert len(placed) == 4083
    assert {name: assign_split(name, official) for name in placed} == placed
