"""declared_pixels: the size an image header claims, read without decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bonefrac.imaging.header import declared_pixels


def _encoded(fmt: str, size: tuple[int, int] = (96, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((size[1], size[0]), np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "TIFF"])
def test_header_gives_width_times_height(fmt):
    assert declared_pixels(_encoded(fmt)) == 96 * 80


def test_header_of_a_jpeg_claiming_a_huge_size_from_its_first_bytes():
    data = bytearray(_encoded("JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (7000).to_bytes(2, "big") * 2
    assert declared_pixels(bytes(data[:400])) == 7000 * 7000  # the header alone is enough


def test_header_of_dicom_counts_frames(make_dicom):
    single = make_dicom(np.zeros((20, 30), np.uint16))
    multi = make_dicom(np.zeros((3, 20, 30), np.uint16))
    assert (declared_pixels(single), declared_pixels(multi)) == (600, 3 * 600)


@pytest.mark.parametrize(
    "data", [b"", b"hello world", b"\x89PNG\r\n\x1a\n\x00"], ids=["empty", "text", "cut png"]
)
def test_header_unknown_when_unreadable(data):
    assert declared_pixels(data) is None
