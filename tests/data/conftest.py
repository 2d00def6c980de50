"""Hand-made data set fixtures with known faults, built from synthetic radiographs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from data_helpers import BOX, OTHER_BOX, jpeg_bytes, radiograph, write_image, write_label
from PIL import Image


@dataclass(frozen=True)
class FaultyDataset:
    yaml_path: Path
    root: Path


@pytest.fixture
def faulty_dataset(tmp_path: Path) -> FaultyDataset:
    """A data set with one of each fault `data check` must find (file names say which)."""
    root = tmp_path / "faulty"
    train, val = root / "images" / "train", root / "images" / "val"
    for i in range(4):
        path = write_image(train / f"good_{i}.png", radiograph(i, 128))
        write_label(path, [BOX] if i % 2 == 0 else [])
    whole = jpeg_bytes(radiograph(10))
    (train / "truncated.jpg").write_bytes(whole[: len(whole) * 2 // 3])
    write_label(train / "truncated.jpg", [BOX])
    (train / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    write_label(train / "corrupt.png", [])
    write_image(train / "unlabelled.png", radiograph(11))
    write_label(write_image(train / "badlabel.png", radiograph(12)), ["0 0.5 0.5 0.1", "5 0.5 0.5 0.1 0.1"])
    write_label(write_image(train / "twin_a.png", radiograph(13)), [BOX])
    write_label(write_image(train / "twin_b.png", radiograph(13)), [BOX])
    orphan = root / "labels" / "train" / "orphan.txt"
    orphan.write_text(BOX + "\n")
    # val: a byte copy of good_0, and a resized JPEG copy of good_2 whose label disagrees
    (val).mkdir(parents=True)
    (val / "copy_of_good_0.png").write_bytes((train / "good_0.png").read_bytes())
    write_label(val / "copy_of_good_0.png", [BOX])
    resized = radiograph(2, 128).resize((100, 100), Image.Resampling.LANCZOS)
    (val / "resized_good_2.jpg").write_bytes(jpeg_bytes(resized, quality=85))
    write_label(val / "resized_good_2.jpg", [OTHER_BOX])
    write_label(write_image(val / "val_own.png", radiograph(20)), [])
    yaml_path = root / "data.yaml"
    yaml_path.write_text("train: images/train\nval: images/val\nnames: [fractured]\n")
    return FaultyDataset(yaml_path, root)


@pytest.fixture
def two_class_dataset(tmp_path: Path) -> Path:
    """train/val with classes fractured (0) and No_fracture (1); some images only have No_fracture boxes."""
    root = tmp_path / "two"
    layout = {
        "train": [["0 0.5 0.5 0.2 0.2"], ["1 0.3 0.3 0.1 0.1"], ["0 0.4 0.4 0.1 0.1", "1 0.6 0.6 0.1 0.1"]]
        + [[], []],
        "val": [["0 0.5 0.5 0.2 0.2"], ["1 0.3 0.3 0.1 0.1"], []],
    }
    seed = 0
    for split, labels in layout.items():
        for i, lines in enumerate(labels):
            seed += 1
            image = write_image(root / "images" / split / f"{split}_{i}.png", radiograph(seed, 64))
            write_label(image, lines)
    (root / "data.yaml").write_text(
        "train: images/train\nval: images/val\nnames:\n  0: fractured\n  1: No_fracture\n"
    )
    return root / "data.yaml"
