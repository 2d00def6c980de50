"""Image labels, letterboxing identical to the serving path, class balance and augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefrac.classify.config import ClassifierAugment
from bonefrac.classify.data import (
    AugmentedImages,
    balanced_sample_weights,
    default_epoch_images,
    fracture_labels,
    letterboxed_grey,
    load_split,
)
from bonefrac.data.yolo_format import label_path_for, load_dataset, read_label_lines
from bonefrac.errors import DatasetError
from bonefrac.imaging.io import load_image
from bonefrac.infer.preprocess import letterbox


def test_fracture_labels_follow_label_files(synthetic_dataset: Path) -> None:
    paths = load_dataset(synthetic_dataset).images("train")
    labels = fracture_labels(paths)
    expected = [int(label_path_for(p).is_file() and bool(read_label_lines(label_path_for(p)))) for p in paths]
    assert labels.tolist() == expected
    assert 0 < labels.sum() < len(labels)


def test_letterboxed_grey_is_the_serving_letterbox(synthetic_dataset: Path) -> None:
    path = load_dataset(synthetic_dataset).images("val")[0]
    served, _ = letterbox(load_image(path).pixels, 96)
    assert np.array_equal(letterboxed_grey(path, 96), served[:, :, 0])


def test_load_split_stacks_pixels_and_labels(synthetic_dataset: Path) -> None:
    spec = load_dataset(synthetic_dataset)
    split = load_split(spec, "train", 64)
    assert split.pixels.shape == (len(spec.images("train")), 64, 64)
    assert split.pixels.dtype == np.uint8
    assert split.positives == int(split.labels.sum())


def test_load_split_names_an_unreadable_image(tmp_path: Path) -> None:
    from bonefrac.data.synth import write_synthetic_dataset

    spec = load_dataset(write_synthetic_dataset(tmp_path / "d", images=6, seed=1, size=64).yaml_path)
    broken = spec.images("train")[0]
    broken.write_bytes(b"not an image")
    with pytest.raises(DatasetError, match=broken.name):
        load_split(spec, "train", 64)


def test_balanced_weights_give_each_class_equal_mass() -> None:
    labels = np.array([1, 0, 0, 0, 0, 1, 0])
    weights = balanced_sample_weights(labels)
    assert weights[labels == 1].sum() == pytest.approx(weights[labels == 0].sum())
    assert default_epoch_images(labels) == 4


def test_balanced_weights_need_both_classes() -> None:
    with pytest.raises(DatasetError, match="fractured and normal"):
        balanced_sample_weights(np.zeros(5, dtype=np.int64))


def test_augmented_images_stay_in_unit_range_and_vary(synthetic_dataset: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    split = load_split(load_dataset(synthetic_dataset), "train", 64)
    augmented = AugmentedImages(split, ClassifierAugment())
    plain = AugmentedImages(split, None)
    x0, y0 = plain[0]
    assert x0.shape == (1, 64, 64) and float(y0) == float(split.labels[0])
    assert torch.equal(x0, torch.from_numpy(split.pixels[0]).float().unsqueeze(0) / 255)
    draws = [augmented[0][0] for _ in range(4)]
    assert all(0.0 <= float(d.min()) and float(d.max()) <= 1.0 for d in draws)
    assert not all(torch.equal(draws[0], d) for d in draws[1:])
