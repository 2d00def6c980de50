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
