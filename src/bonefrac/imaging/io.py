"""load_image: any accepted file (path or bytes) -> a display-ready Radiograph.

The format is sniffed from the bytes (magic numbers); the file name is never trusted. Raster formats are
decoded by raster.py (Pillow), DICOM by dicom.py (pydicom, optional). See docs/imaging.md.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bonefrac.errors import ImageError
from bonefrac.imaging.limits import DEFAULT_MAX_PIXELS
from bonefrac.imaging.sniff import accepted_formats_text, describe_unaccepted, sniff_format
from bonefrac.records import Radiograph

__all__ = ["DEFAULT_MAX_PIXELS", "load_image"]

_HEAD_BYTES = 512  # enough for every magic number sniff.py knows (NIfTI at 344, DICOM at 128)

log = logging.getLogger(__name__)


def load_image(
    source: Path | str | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    frame: int | None = None,
    name: str | None = None,
    allow_truncated: bool = False,
    strict_jpeg: bool = False,
) -> Radiograph:
    """Decode a radiograph file (a path, or its bytes) into RGB uint8 pixels plus metadata.

    Accepted: JPEG, PNG, BMP, TIFF, WebP (8/16-bit; grey, RGB, RGBA, palette, CMYK, LA) and DICOM.
    `max_pixels` is checked against the header before decoding; `frame` picks one frame of a multi-frame
    file (required there); `name` is used in error messages (defaults to the file name, or "image").
    `allow_truncated=True` decodes a JPEG whose end is missing as OpenCV (and so ultralytics training) does:
    the missing rows become mid-grey and metadata["truncated"] is True. By default such files are refused.
    `strict_jpeg=True` also refuses a JPEG with corrupt data anywhere (which Pillow would decode quietly, the
    bad rows grey), decoding grey and RGB JPEGs once with the strict decoder (what the service does).
    Raises ImageError with what was wrong and what is accepted.
    """
    if max_pixels <= 0:
        raise ImageError(f"max_pixels must be positive, got {max_pixels}")
    if frame is not None and frame < 0:
        raise ImageError(f"frame must be 0 or more, got {frame}")
    data, fmt, what = _read_sniffed(source, name)
    _note_misleading_suffix(what, fmt)
    spacing: tuple[float, float] | None = None
    if fmt == "dicom":
        from bonefrac.imaging.dicom import decode_dicom

        pixels, spacing, metadata = decode_dicom(data, max_pixels=max_pixels, frame=frame, what=what)
    else:
        from bonefrac.imaging.raster import decode_raster

        pixels, metadata = decode_raster(
            data,
            fmt,
            max_pixels=max_pixels,
            frame=frame,
            what=what,
            allow_truncated=allow_truncated,
            strict_jpeg=strict_jpeg,
        )
    metadata = {"format": fmt, "name": what, "file_bytes": len(data), **metadata}
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    pixels.setflags(write=False)  # a Radiograph is a record: copy the pixels before editing them
    return Radiograph(
        pixels=pixels,
        source_format=fmt,
        pixel_spacing_mm=spacing,
        metadata=metadata,
    )


def _read_sniffed(source: Path | str | bytes, name: str | None) -> tuple[bytes, str, str]:
    """The bytes of `source`, its sniffed format and a name for messages. Strings are paths, never data.

    For a path, the first bytes are read and checked first, so a large file of another kind (a video in a
    folder of radiographs) is refused without reading it all.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        what = name or "image"
        return data, _sniff_or_refuse(data[:_HEAD_BYTES], what), what
    if not isinstance(source, str | Path):
        raise ImageError(f"image source must be a path or bytes, got {type(source).__name__}")
    path = Path(source)
    what = name or path.name
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if not path.is_file():
        raise ImageError(f"{path}: not a file (a folder or device); give an image file")
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
            fmt = _sniff_or_refuse(head, what)
            return head + handle.read(), fmt, what
    except OSError as exc:
        raise ImageError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def _sniff_or_refuse(head: bytes, what: str) -> str:
    if not head:
        raise ImageError(f"{what}: file is empty (0 bytes); expected one of {accepted_formats_text()}")
    fmt = sniff_format(head)
    if fmt is None:
        known = describe_unaccepted(head)
        article = "an" if known and known[0] in "AEIOU" else "a"
        arrived = (
            f"{article} {known} file" if known else f"unrecognised content (first bytes {head[:8].hex(' ')})"
        )
        raise ImageError(f"{what}: {arrived}; accepted formats are {accepted_formats_text()}")
    return fmt


_SUFFIXES = {
    "jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "png": {".png"},
    "bmp": {".bmp", ".dib"},
    "tiff": {".tif", ".tiff"},
    "webp": {".webp"},
    "dicom": {".dcm", ".dicom", ".dic", ""},
}


def _note_misleading_suffix(what: str, fmt: str) -> None:
    """Log when a file's suffix names another format than its content (no suffix says nothing)."""
    suffix = Path(what).suffix.lower()
    known = set().union(*_SUFFIXES.values())
    if suffix and suffix in known and suffix not in _SUFFIXES[fmt]:
        log.info("%s: named %s but holds %s; decoding it as %s", what, suffix, fmt.upper(), fmt.upper())
