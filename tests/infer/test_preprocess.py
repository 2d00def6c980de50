"""Letterbox placement against hand-computed cases, and the numpy resize against OpenCV."""

from __future__ import annotations

import numpy as np
import pytest

from bonefrac.infer.preprocess import (
    PAD_VALUE,
    is_grey_source,
    letterbox,
    letterbox_params,
    preprocess,
    resize_linear,
    resize_linear_numpy,
    to_input_tensor,
)


@pytest.mark.parametrize(
    ("height", "width", "size", "expected"),
    [
        # (new_width, new_height, pad_left, pad_top), worked out by hand from ultralytics' LetterBox rules
        (480, 640, 640, (640, 480, 0, 80)),  # r = 1, 160 px of height padding split 80 / 80
        (100, 50, 64, (32, 64, 16, 0)),  # r = 0.64, width 32, 32 px split 16 / 16
        (10, 21, 32, (32, 15, 0, 8)),  # r = 32/21, height round(15.24) = 15, 17 px split 8 / 9
        (3, 1000, 640, (640, 2, 0, 319)),  # r = 0.64, height round(1.92) = 2, 638 split 319 / 319
        (1, 3000, 64, (64, 1, 0, 31)),  # height round(0.02) -> kept at 1 px, 63 split 31 / 32
        (64, 64, 64, (64, 64, 0, 0)),  # nothing to do
        (373, 454, 640, (640, 526, 0, 57)),  # FracAtlas size: r = 640/454, height round(525.8) = 526
    ],
)
def test_letterbox_params_hand_computed(height, width, size, expected):
    p = letterbox_params(height, width, size)
    assert (p.new_width, p.new_height, p.pad_left, p.pad_top) == expected
    assert p.gain_x == pytest.approx(p.new_width / width)
    assert p.gain_y == pytest.approx(p.new_height / height)


@pytest.mark.parametrize(("height", "width", "size"), [(0, 10, 64), (10, 0, 64), (10, 10, 0)])
def test_letterbox_params_rejects_empty(height, width, size):
    with pytest.raises(ValueError, match="at least 1x1|positive"):
        letterbox_params(height, width, size)


@pytest.mark.parametrize("use_cv2", [True, False])
def test_letterbox_pads_grey_and_places_image_centred(use_cv2):
    pixels = np.full((100, 50, 3), 200, np.uint8)
    boxed, p = letterbox(pixels, 64, use_cv2=use_cv2)
    assert boxed.shape == (64, 64, 3) and boxed.dtype == np.uint8
    assert (boxed[:, :16] == PAD_VALUE).all() and (boxed[:, 48:] == PAD_VALUE).all()
    assert (boxed[:, 16:48] == 200).all()  # a flat image stays flat through the resize
    assert p.pad_left == 16


def test_resize_linear_numpy_two_by_two_to_four_by_four_matches_hand_computed():
    # half-pixel centres: output x=1 samples source x=0.25, so 0*0.75 + 100*0.25 = 25
    pixels = np.array([[0, 100], [100, 200]], np.uint8)[:, :, None].repeat(3, axis=2)
    out = resize_linear_numpy(pixels, 4, 4)[:, :, 0]
    expected = np.array(
        [[0, 25, 75, 100], [25, 50, 100, 125], [75, 100, 150, 175], [100, 125, 175, 200]], np.uint8
    )
    np.testing.assert_array_equal(out, expected)


SHRINK = [
    (2000, 1500, 640),
    (1500, 2000, 640),
    (999, 777, 640),
    (1024, 512, 320),
    (128, 128, 64),
    (3, 1000, 640),
]
GROW = [(373, 512, 640), (100, 37, 640), (64, 64, 640)]


@pytest.mark.parametrize(("height", "width", "size"), SHRINK)
def test_resize_linear_numpy_equals_opencv_when_shrinking(height, width, size):
    cv2 = pytest.importorskip("cv2")
    pixels = np.random.default_rng(height + width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    p = letterbox_params(height, width, size)
    expected = cv2.resize(pixels, (p.new_width, p.new_height), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(resize_linear_numpy(pixels, p.new_width, p.new_height), expected)


@pytest.mark.parametrize(("height", "width", "size"), GROW)
def test_resize_linear_numpy_within_one_level_of_opencv_when_enlarging(height, width, size):
    cv2 = pytest.importorskip("cv2")
    pixels = np.random.default_rng(height * width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    p = letterbox_params(height, width, size)
    expected = cv2.resize(pixels, (p.new_width, p.new_height), interpolation=cv2.INTER_LINEAR)
    diff = np.abs(resize_linear_numpy(pixels, p.new_width, p.new_height).astype(int) - expected)
    assert diff.max() <= 1
    assert (diff > 0).mean() < 0.01


def test_resize_linear_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        resize_linear(np.zeros((4, 4, 3), np.float32), 2, 2)


def test_to_input_tensor_is_rgb_channels_first_in_unit_range():
    image = np.zeros((2, 2, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 255, 51, 0
    tensor = to_input_tensor([image, image])
    assert tensor.shape == (2, 3, 2, 2) and tensor.dtype == np.float32
    assert tensor.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(tensor[0, :, 0, 0], np.array([255, 51, 0], np.float32) / np.float32(255))


@pytest.mark.parametrize(("height", "width"), [(100, 50), (480, 640), (64, 64), (7, 300)])
def test_preprocess_equals_letterbox_then_tensor(height, width):
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    tensor, params = preprocess(pixels, 64)
    boxed, same_params = letterbox(pixels, 64)
    assert params == same_params
    np.testing.assert_array_equal(tensor, to_input_tensor([boxed]))


@pytest.mark.parametrize(("height", "width"), [(300, 200), (50, 90)])
def test_resize_linear_numpy_grey_shortcut_equals_colour_path(height, width):
    grey = np.random.default_rng(1).integers(0, 256, (height, width), dtype=np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    tinted = rgb.copy()
    tinted[0, 0, 2] ^= 1  # one pixel off-grey forces the three-channel path
    out_grey = resize_linear_numpy(rgb, 64, 40)
    out_colour = resize_linear_numpy(tinted, 64, 40)
    assert out_grey.strides[2] == 0  # the shortcut was taken
    mask = np.ones(out_grey.shape[:2], bool)
    mask[:2, :2] = False  # the pixels near the tinted one may differ
    np.testing.assert_array_equal(out_grey[mask], out_colour[mask])
    tensor, _ = preprocess(rgb, 64, use_cv2=False)
    boxed, _ = letterbox(rgb, 64, use_cv2=False)
    np.testing.assert_array_equal(tensor, to_input_tensor([boxed]))


@pytest.mark.parametrize(("height", "width", "size"), [(300, 200, 64), (50, 90, 128)])
def test_resize_linear_numpy_grey_hint_gives_the_checked_result(height, width, size):
    grey = np.random.default_rng(2).integers(0, 256, (height, width), dtype=np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    p = letterbox_params(height, width, size)
    hinted = resize_linear_numpy(rgb, p.new_width, p.new_height, grey=True)
    checked = resize_linear_numpy(rgb, p.new_width, p.new_height)
    np.testing.assert_array_equal(hinted, checked)
    tensor_hinted, _ = preprocess(rgb, size, use_cv2=False, grey=True)
    tensor_checked, _ = preprocess(rgb, size, use_cv2=False)
    np.testing.assert_array_equal(tensor_hinted, tensor_checked)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"mode": "L"}, True),
        ({"mode": "I;16"}, True),
        ({"mode": "MONOCHROME1"}, True),
        ({"mode": "RGB"}, None),
        ({"mode": "P"}, None),
        ({}, None),
    ],
)
def test_is_grey_source_trusts_only_grey_file_modes(metadata, expected):
    assert is_grey_source(metadata) is expected


def test_load_image_of_a_grey_png_is_marked_grey():
    import io

    from PIL import Image

    from bonefrac.imaging.io import load_image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 9), np.uint8)).save(buffer, format="PNG")
    assert is_grey_source(load_image(buffer.getvalue()).metadata) is True
