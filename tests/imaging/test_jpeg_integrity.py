"""check_jpeg_intact: a JPEG whose data libjpeg reports as corrupt or missing is refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bonefrac.errors import ImageError
from bonefrac.imaging.jpeg_integrity import check_jpeg_intact


def _jpeg(progressive: bool = False) -> bytes:
    y, x = np.mgrid[0:400, 0:300]
    pixels = (128 + 60 * np.sin(x / 9.0) * np.cos(y / 13.0)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", progressive=progressive)
    return buffer.getvalue()


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_jpeg_intact_passes(progressive):
    check_jpeg_intact(_jpeg(progressive), "x")


def test_jpeg_cut_with_its_end_marker_added_back_is_refused():
    data = _jpeg()
    with Image.open(io.BytesIO(data[: int(len(data) * 0.4)] + b"\xff\xd9")) as lenient:
        lenient.load()  # Pillow decodes it quietly, the missing rows grey
    with pytest.raises(ImageError, match="corrupt or incomplete"):
        check_jpeg_intact(data[: int(len(data) * 0.4)] + b"\xff\xd9", "upload")


def test_jpeg_with_corrupt_entropy_data_is_refused():
    data = bytearray(_jpeg())
    start = data.index(b"\xff\xda") + 200
    data[start : start + 40] = b"\xff\xd0" * 20  # restart markers where none belong
    with pytest.raises(ImageError, match="upload"):
        check_jpeg_intact(bytes(data), "upload")


def _colour_jpeg(orientation: int, progressive: bool) -> bytes:
    y, x = np.mgrid[0:240, 0:320]
    pixels = np.stack([(x % 256), (y % 256), ((x + y) % 256)], axis=2).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif.tobytes(), progressive=progressive)
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", [1, 6])
@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_strict_decoding_gives_pillows_pixels_in_one_decode(orientation, progressive):
    """The service's strict path decodes once and must give exactly what the default path gives."""
    from bonefrac.imaging.io import load_image

    for data in (_jpeg(progressive), _colour_jpeg(orientation, progressive)):
        strict, default = load_image(data, strict_jpeg=True), load_image(data)
        assert strict.pixels.shape == default.pixels.shape
        assert np.array_equal(strict.pixels, default.pixels)
        assert strict.metadata == default.metadata


def test_strict_decoding_refuses_what_pillow_would_decode_quietly():
    from bonefrac.imaging.io import load_image

    cut = _jpeg()[: int(len(_jpeg()) * 0.4)] + b"\xff\xd9"
    assert load_image(cut).pixels.shape == (400, 300, 3)  # the default path decodes it, rows grey
    with pytest.raises(ImageError, match="upload: JPEG data is corrupt or incomplete"):
        load_image(cut, strict_jpeg=True, name="upload")
    cmyk = io.BytesIO()
    Image.open(io.BytesIO(_colour_jpeg(1, False))).convert("CMYK").save(cmyk, format="JPEG")
    cut_cmyk = cmyk.getvalue()[: int(len(cmyk.getvalue()) * 0.6)] + b"\xff\xd9"
    with pytest.raises(ImageError, match="corrupt or incomplete"):  # Pillow decodes CMYK; still checked
        load_image(cut_cmyk, strict_jpeg=True)
    assert load_image(cmyk.getvalue(), strict_jpeg=True).pixels.shape == (240, 320, 3)
