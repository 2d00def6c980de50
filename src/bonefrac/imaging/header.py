"""What an image file's header says about its size, read without decoding any pixel (cheap, bounded work).

Lets a service price or refuse an upload before it spends CPU and memory on decoding it.
"""

from __future__ import annotations

import io

from PIL import Image

from bonefrac.imaging.sniff import PILLOW_FORMATS, sniff_format


def declared_pixels(data: bytes) -> int | None:
    """Width x height (x frames for DICOM) that the header of `data` declares; None when the header cannot be
    read (the decoder then says what is wrong)."""
    fmt = sniff_format(data[:512])
    if fmt is None:
        return None
    try:
        if fmt == "dicom":
            return _dicom_pixels(data)
        with Image.open(io.BytesIO(data), formats=PILLOW_FORMATS[fmt]) as image:
            width, height = image.size
            return int(width) * int(height)
    except Exception:  # untrusted bytes: any parser error means "unknown", never a crash
        return None


def _dicom_pixels(data: bytes) -> int | None:
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
    rows, columns = int(getattr(dataset, "Rows", 0) or 0), int(getattr(dataset, "Columns", 0) or 0)
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    return rows * columns * max(frames, 1) if rows and columns else None
