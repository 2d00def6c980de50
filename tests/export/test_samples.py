"""Parity and calibration images: synthetic, from a folder, from a data.yaml split."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bonefrac.errors import ExportError
from bonefrac.export.samples import load_samples, synthetic_samples


def test_synthetic_samples_deterministic_and_varied():
    first, second = synthetic_samples(8), synthetic_samples(8)
    assert [n for n, _ in first] == [n for n, _ in second]
    for (_, a), (_, b) in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.pixels, b.pixels)
    shapes = {img.pixels.shape[:2] for _, img in first}
    assert len(shapes) == 8
    assert any(h > w for h, w in shapes) and any(w > h for h, w in shapes)


def test_load_samples_from_folder_and_yaml(tmp_path, synthetic_dataset):
    for k in range(5):
        Image.fromarray(np.full((20, 30), k * 40, np.uint8)).save(tmp_path / f"{k}.png")
    picked = load_samples(tmp_path, count=3)
    assert [n for n, _ in picked] == ["0.png", "2.png", "4.png"]
    from_yaml = load_samples(synthetic_dataset, split="val", count=2)
    assert len(from_yaml) == 2 and from_yaml[0][1].pixels.shape == (128, 128, 3)


def test_load_samples_errors(tmp_path, synthetic_dataset):
    with pytest.raises(ExportError, match="not found"):
        load_samples(tmp_path / "absent")
    with pytest.raises(ExportError, match="no images"):
        load_samples(tmp_path)
    with pytest.raises(ExportError, match="no split"):
        load_samples(synthetic_dataset, split="holdout")
    (tmp_path / "list.csv").write_text("x")
    with pytest.raises(ExportError, match="data.yaml or a folder"):
        load_samples(tmp_path / "list.csv")


def test_calibration_comes_from_train_when_the_parity_data_is_a_data_yaml(synthetic_dataset, tmp_path):
    from bonefrac.data.yolo_format import load_dataset
    from bonefrac.export.samples import calibration_samples

    parity = load_samples(synthetic_dataset, split="val", count=2)
    calibration = calibration_samples(synthetic_dataset, parity, count=4)
    train_names = {p.name for p in load_dataset(synthetic_dataset).images("train")}
    assert len(calibration) == 4 and {name for name, _ in calibration} <= train_names
    synthetic = synthetic_samples(2)
    assert calibration_samples(None, synthetic) is synthetic  # no data set: the parity images
    assert calibration_samples(tmp_path, synthetic) is synthetic  # a folder: the parity images
