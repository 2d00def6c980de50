import io

import numpy as np
import pytest
from imaging_factories import encode_raster, gradient
from PIL import Image, ImageOps, features

from bonefrac.errors import ImageError
from bonefrac.imaging.io import load_image

GRAY = gradient(24, 32).astype(np.uint8)
RGB = np.stack([GRAY, 255 - GRAY, np.full_like(GRAY, 77)], axis=2)
ALPHA = np.tile(np.array([0, 51, 102, 255], np.uint8), (24, 8))
LOSSLESS = ["PNG", "BMP", "TIFF"] + (["WEBP"] if features.check("webp") else [])
LOSSLESS_PARAMS = {"WEBP": {"lossless": True}}


def _rgb_of(fmt, image, **params):
    """What Pillow itself decodes from those bytes, converted to RGB (for lossy formats)."""
    data = encode_raster(image, fmt, **params)
    return data, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("fmt", LOSSLESS)
def test_raster_grey_is_decoded_exactly(fmt):
    radiograph = load_image(encode_raster(Image.fromarray(GRAY), fmt, **LOSSLESS_PARAMS.get(fmt, {})))
    assert radiograph.source_format == fmt.lower()
    assert radiograph.pixels.shape == (24, 32, 3) and radiograph.pixels.dtype == np.uint8
    assert np.array_equal(radiograph.pixels, np.repeat(GRAY[:, :, None], 3, axis=2))
    assert radiograph.metadata["bit_depth"] == 8


@pytest.mark.parametrize("fmt", LOSSLESS)
def test_raster_rgb_is_decoded_exactly(fmt):
    radiograph = load_image(encode_raster(Image.fromarray(RGB), fmt, **LOSSLESS_PARAMS.get(fmt, {})))
    assert np.array_equal(radiograph.pixels, RGB)
    assert radiograph.metadata["mode"] == "RGB"


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [("JPEG", "L"), ("JPEG", "RGB"), ("JPEG", "CMYK"), ("TIFF", "CMYK"), ("TIFF", "YCbCr"), ("PNG", "P")],
)
def test_raster_modes_match_pillow_rgb_conversion(fmt, mode):
    source = Image.fromarray(RGB).convert(mode)
    data, expected = _rgb_of(fmt, source)
    radiograph = load_image(data)
    assert np.array_equal(radiograph.pixels, expected)
    assert radiograph.metadata["mode"] == Image.open(io.BytesIO(data)).mode


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF"])
def test_raster_one_bit_becomes_black_and_white(fmt):
    bits = GRAY > 127
    radiograph = load_image(encode_raster(Image.fromarray(bits), fmt))
    assert np.array_equal(radiograph.pixels[..., 0], np.where(bits, 255, 0))
    assert radiograph.metadata["bit_depth"] == 1


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [("PNG", "RGBA"), ("PNG", "LA"), ("TIFF", "RGBA")]
    + ([("WEBP", "RGBA")] if features.check("webp") else []),
)
def test_raster_alpha_is_composited_on_black(fmt, mode):
    colour = RGB if mode == "RGBA" else np.repeat(GRAY[:, :, None], 3, axis=2)
    planes = [*np.moveaxis(colour if mode == "RGBA" else GRAY[:, :, None], 2, 0), ALPHA]
    image = Image.merge(mode, [Image.fromarray(plane) for plane in planes])
    radiograph = load_image(encode_raster(image, fmt, **LOSSLESS_PARAMS.get(fmt, {})))
    expected = np.rint(colour.astype(np.float64) * ALPHA[:, :, None] / 255).astype(np.uint8)
    assert np.array_equal(radiograph.pixels, expected)
    assert radiograph.metadata["alpha"] == "composited on black"


def test_raster_palette_transparency_becomes_black():
    palette_image = Image.fromarray(GRAY).convert("P")
    palette_image.info["transparency"] = int(np.asarray(palette_image)[0, 0])
    radiograph = load_image(
        encode_raster(palette_image, "PNG", transparency=palette_image.info["transparency"])
    )
    assert radiograph.pixels[0, 0].tolist() == [0, 0, 0]
    assert radiograph.metadata["alpha"] == "composited on black"


@pytest.mark.parametrize(
    ("fmt", "mode", "top"),
    [("PNG", "I;16", 4095), ("PNG", "I;16", 65535), ("TIFF", "I;16", 1000), ("TIFF", "I;16B", 4095)],
)
def test_raster_16_bit_grey_is_stretched_by_its_actual_range(fmt, mode, top):
    values = gradient(24, 32, top=top - 300) + 300  # range 300..top
    dtype = ">u2" if mode == "I;16B" else "<u2"
    image = Image.frombytes(mode, (32, 24), values.astype(dtype).tobytes())
    radiograph = load_image(encode_raster(image, fmt))
    expected = np.rint((values - 300) * 255 / (top - 300)).astype(np.uint8)
    assert np.array_equal(radiograph.pixels[..., 0], expected)
    assert radiograph.metadata["bit_depth"] == 16
    assert radiograph.metadata["intensity_range"] == [300.0, float(top)]


def test_raster_float_tiff_is_stretched_by_its_actual_range():
    values = gradient(8, 8, top=100).astype(np.float32) / 100 - 0.5  # -0.5 .. 0.5
    radiograph = load_image(encode_raster(Image.fromarray(values, mode="F"), "TIFF"))
    assert radiograph.pixels[0, 0, 0] == 0 and radiograph.pixels[-1, -1, 0] == 255
    assert radiograph.metadata["mode"] == "F"


def _exif_bytes(fmt, orientation):
    image = Image.fromarray(RGB)
    exif = Image.Exif()
    exif[0x0112] = orientation
    if fmt == "TIFF":  # TIFF keeps orientation as a tag of its own
        return encode_raster(image, fmt, tiffinfo={0x0112: orientation})
    return encode_raster(image, fmt, exif=exif)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "JPEG"])
def test_raster_exif_orientation_is_applied(fmt, orientation):
    data = _exif_bytes(fmt, orientation)
    radiograph = load_image(data)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert np.array_equal(radiograph.pixels, expected)
    assert radiograph.metadata["exif_orientation"] == orientation
    rotated = orientation >= 5
    assert radiograph.pixels.shape[:2] == ((32, 24) if rotated else (24, 32))
    assert radiograph.metadata["original_width"] == 32


def _multi_page(fmt, pages):
    frames = [Image.fromarray(np.full((8, 8), value, np.uint8)) for value in pages]
    extra = {"duration": 100, "loop": 0} if fmt != "TIFF" else {}
    return encode_raster(frames[0], fmt, save_all=True, append_images=frames[1:], **extra)


@pytest.mark.parametrize("fmt", ["TIFF", "PNG"])
def test_raster_multi_frame_needs_a_frame(fmt):
    data = _multi_page(fmt, [10, 120, 250])
    with pytest.raises(ImageError, match=r"3 frames; choose one with frame=0\.\.2"):
        load_image(data)
    assert load_image(data, frame=2).pixels[0, 0, 0] == 250
    with pytest.raises(ImageError, match="frame 3 is out of range"):
        load_image(data, frame=3)


def test_raster_single_frame_accepts_only_frame_zero():
    data = encode_raster(Image.fromarray(GRAY), "PNG")
    assert load_image(data, frame=0).width == 32
    with pytest.raises(ImageError, match=r"frame 1 is out of range; the file holds 1 frame\(s\)"):
        load_image(data, frame=1)
