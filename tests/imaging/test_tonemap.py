import numpy as np
import pytest
from PIL import Image, ImageOps

from bonefrac.imaging.tonemap import (
    apply_exif_orientation,
    composite_on_black,
    gray_to_rgb,
    map_through_lut,
    scale_to_uint8,
)


@pytest.mark.parametrize("orientation", range(0, 10))
def test_apply_exif_orientation_matches_pillow(orientation):
    pixels = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(image)) if 1 <= orientation <= 8 else pixels
    assert np.array_equal(apply_exif_orientation(pixels, orientation), expected)


@pytest.mark.parametrize(
    ("values", "expected", "span"),
    [
        ([0, 2048, 4095], [0, 128, 255], (0, 4095)),
        ([-5.0, 0.0, 5.0], [0, 128, 255], (-5, 5)),
        ([3, 3], [0, 0], (3, 3)),
        ([np.nan, 10.0], [0, 255], (0, 10)),
        ([], [], (0, 0)),
    ],
)
def test_scale_to_uint8_stretches_the_actual_range(values, expected, span):
    scaled, (low, high) = scale_to_uint8(np.array(values, np.float64))
    assert scaled.dtype == np.uint8 and scaled.tolist() == expected and (low, high) == span


def test_composite_on_black_weights_by_alpha():
    rgb = np.full((1, 3, 3), 200, np.uint8)
    alpha = np.array([[0, 128, 255]], np.uint8)
    assert composite_on_black(rgb, alpha)[0, :, 0].tolist() == [0, 100, 200]


def test_gray_to_rgb_copies_the_plane():
    out = gray_to_rgb(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert out.shape == (2, 3, 3) and out.flags.c_contiguous and out[1, 2].tolist() == [5, 5, 5]


@pytest.mark.parametrize("dtype", ["u1", "<u2", ">u2", "<i2", "i1", "<i4", "<f4"])
def test_map_through_lut_equals_transforming_pixels_directly_for_monotonic_transforms(dtype):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "ui" else None
    low, high = (info.min, info.max) if info else (-1e3, 1e3)
    stored = rng.uniform(max(low, -3000), min(high, 3000), (30, 40)).astype(dtype)

    def transform(values, present):
        windowed = np.clip(np.rint((values.astype(np.float64) * 1.5 - 200) / 9), 0, 255).astype(np.uint8)
        stretched, span = scale_to_uint8(values, present)
        return windowed // 2 + stretched // 2, span

    direct, direct_span = transform(stored, None)
    mapped, mapped_span = map_through_lut(stored, transform)
    assert np.array_equal(mapped, direct) and mapped_span == direct_span


@pytest.mark.parametrize("dtype", ["<u2", "<i2", "<i4"])
def test_map_through_lut_ignore_value_leaves_it_out_of_the_range(dtype):
    stored = np.array([[-5, 10, 20, 30]] if dtype != "<u2" else [[65535, 10, 20, 30]], dtype)
    ignore = int(stored[0, 0])
    mapped, span = map_through_lut(stored, scale_to_uint8, ignore_value=ignore)
    assert span == (10.0, 30.0) and mapped[0, 1:].tolist() == [0, 128, 255]
