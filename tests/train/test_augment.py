"""augment.photometric: the config block, the albumentations transforms it becomes, and what they do."""

from __future__ import annotations

import numpy as np
import pytest

from bonefrac.errors import ConfigError
from bonefrac.train.config import build_train_config, to_ultralytics_args

A = pytest.importorskip("albumentations")

DATA = {"data": "some/data.yaml"}
ROBUST = {
    "brightness_contrast": 0.3,
    "gamma": 0.3,
    "jpeg_quality": [40, 95],
    "jpeg_p": 0.3,
    "blur": 5,
    "noise": 0.03,
}


def args_for(photometric):  # type: ignore[no-untyped-def]
    return to_ultralytics_args(build_train_config({**DATA, "augment": {"photometric": photometric}}, "t"))


def test_photometric_is_off_by_default():
    args = to_ultralytics_args(build_train_config(DATA, "t"))
    assert "augmentations" not in args and "photometric" not in args  # ultralytics' own albumentations set


def test_photometric_block_builds_the_transforms():
    transforms = args_for(ROBUST)["augmentations"]
    by_type = {type(t).__name__: t for t in transforms}
    assert list(by_type) == [
        "RandomBrightnessContrast",
        "RandomGamma",
        "GaussianBlur",
        "GaussNoise",
        "ImageCompression",
    ]
    bc = by_type["RandomBrightnessContrast"]
    assert (tuple(bc.brightness_limit), tuple(bc.contrast_limit), bc.p) == ((-0.3, 0.3), (-0.3, 0.3), 0.5)
    assert (tuple(by_type["RandomGamma"].gamma_limit), by_type["RandomGamma"].p) == ((70, 130), 0.5)
    assert (tuple(by_type["ImageCompression"].quality_range), by_type["ImageCompression"].p) == (
        (40, 95),
        0.3,
    )
    assert tuple(by_type["GaussianBlur"].blur_limit) == (3, 5) and by_type["GaussianBlur"].p == 0.1
    assert tuple(by_type["GaussNoise"].std_range) == (0.0, 0.03) and not by_type["GaussNoise"].per_channel
    for t in transforms:  # ultralytics stores them in checkpoints with A.to_dict
        assert A.from_dict(A.to_dict(t)).__class__ is t.__class__


def test_only_the_set_transforms_are_built():
    assert [type(t).__name__ for t in args_for({"gamma": 0.2})["augmentations"]] == ["RandomGamma"]
    assert "augmentations" not in args_for({})  # an empty block changes nothing
    assert "augmentations" not in args_for({"gamma": 0.2, "gamma_p": 0.0})


def test_transforms_change_pixels_and_keep_grey_images_grey():
    rng = np.random.default_rng(0)
    grey = rng.integers(40, 200, size=(64, 64), dtype=np.uint8)
    image = np.repeat(grey[:, :, None], 3, axis=2)
    strong = {
        **ROBUST,
        "brightness_contrast_p": 1.0,
        "gamma_p": 1.0,
        "jpeg_p": 1.0,
        "blur_p": 1.0,
        "noise_p": 1.0,
    }
    pipeline = A.Compose(args_for(strong)["augmentations"], seed=0)
    out = pipeline(image=image)["image"]
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image.astype(int)).mean() > 1.0
    assert np.array_equal(out[:, :, 0], out[:, :, 1]) and np.array_equal(out[:, :, 1], out[:, :, 2])


@pytest.mark.parametrize(
    ("photometric", "pattern"),
    [
        ({"gama": 0.3}, r"unknown key 'augment.photometric.gama'; did you mean 'gamma'\?"),
        ({"gamma": 1.5}, r"augment.photometric.gamma: .*less than or equal to 0.9"),
        (
            {"brightness_contrast": -0.1},
            r"augment.photometric.brightness_contrast: .*greater than or equal to 0",
        ),
        (
            {"jpeg_quality": [95, 40]},
            r"jpeg_quality must be \[low, high\] with 1 <= low <= high <= 100, got \[95, 40\]",
        ),
        ({"jpeg_quality": [0, 90]}, r"jpeg_quality must be .* got \[0, 90\]"),
        ({"jpeg_quality": 70}, r"augment.photometric.jpeg_quality"),
        ({"blur": 4}, r"blur must be 0 \(off\) or an odd kernel size >= 3, got 4"),
        ({"noise_p": 2}, r"augment.photometric.noise_p: .*less than or equal to 1"),
    ],
)
def test_bad_photometric_values_fail_with_clear_message(photometric, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_train_config({**DATA, "augment": {"photometric": photometric}}, "t.yaml")


def test_photometric_without_albumentations_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "albumentations", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"needs the albumentations package.*\[train\]"):
        args_for({"gamma": 0.2})
