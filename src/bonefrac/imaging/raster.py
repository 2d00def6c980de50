"""JPEG, PNG, BMP, TIFF and WebP decoding through Pillow, to display-ready RGB uint8.

Conversions (documented in docs/imaging.md):
- 1-bit, 8-bit grey and palette images become grey/RGB; CMYK, YCbCr, LAB and HSV are converted to RGB.
- Alpha (LA, RGBA, PA, palette transparency) is composited on black: transparent pixels become black.
- 16-bit and 32-bit grey (I;16, I, F) are stretched from their actual min..max range to 0..255.
  16-bit RGB PNGs are reduced to 8 bits per channel by Pillow itself.
- EXIF (or TIFF) orientation 2-8 is applied, so pixels are upright as a viewer would show them.
- Multi-page TIFF and animated PNG/WebP need `frame`; a single-frame image accepts frame 0 only.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
from PIL import Image, features

from bonefrac.errors import ImageError
from bonefrac.imaging.jpeg_integrity import check_jpeg_intact, decode_jpeg_strict
from bonefrac.imaging.limits import check_pixel_count, choose_frame
from bonefrac.imaging.sniff import PILLOW_FORMATS
from bonefrac.imaging.tonemap import (
    apply_exif_orientation,
    composite_on_black,
    gray_to_rgb,
    map_through_lut,
    scale_to_uint8,
)

log = logging.getLogger(__name__)

_BIT_DEPTH = {"1": 1, "I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16, "I": 32, "F": 32}
_WIDE_GRAY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_EXIF_ORIENTATION = 0x0112


def decode_raster(
    data: bytes,
    fmt: str,
    *,
    max_pixels: int,
    frame: int | None,
    what: str,
    allow_truncated: bool = False,
    strict_jpeg: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode an image file's bytes (already sniffed as `fmt`) to (H, W, 3) uint8 RGB plus metadata.

    `allow_truncated`: a JPEG without its end-of-image marker gets one appended, so libjpeg fills the missing
    rows with mid-grey (what OpenCV does) instead of Pillow refusing it; no global Pillow setting is changed.
    `strict_jpeg`: a JPEG with any corrupt or missing data is refused (ImageError); grey and RGB JPEGs are
    then decoded once, by the strict decoder, to the same pixels Pillow gives.
    """
    if fmt == "webp" and not features.check("webp"):
        raise ImageError(f"{what}: WebP decoding needs Pillow built with libwebp; convert the image to PNG")
    truncated = fmt == "jpeg" and not data.rstrip(b"\x00").endswith(b"\xff\xd9")
    if truncated and allow_truncated:
        log.warning("%s: JPEG has no end-of-image marker; decoding what is there (missing rows grey)", what)
        data = data + b"\xff\xd9"
    try:
        image = Image.open(io.BytesIO(data), formats=PILLOW_FORMATS[fmt])
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{what}: refused before decoding, the header claims a huge image ({exc})") from exc
    except Exception as exc:  # corrupt headers raise many types; the file is untrusted input
        raise ImageError(f"{what}: not a readable {fmt.upper()} file ({type(exc).__name__}: {exc})") from exc
    try:
        with image:
            strict = data if strict_jpeg and fmt == "jpeg" else None
            pixels, metadata, orientation = _decode_opened(
                image, max_pixels=max_pixels, frame=frame, what=what, strict_jpeg=strict
            )
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{what}: refused before decoding, the header claims a huge image ({exc})") from exc
    except Exception as exc:  # truncated data, broken tags, bad palettes: many exception types
        raise ImageError(
            f"{what}: {fmt.upper()} file is truncated or corrupt ({type(exc).__name__}: {exc})"
        ) from exc
    if truncated and allow_truncated:
        metadata["truncated"] = True
    return apply_exif_orientation(pixels, orientation), metadata


def _decode_opened(
    image: Image.Image, *, max_pixels: int, frame: int | None, what: str, strict_jpeg: bytes | None = None
) -> tuple[np.ndarray, dict[str, Any], int]:
    """Pixels, metadata and the EXIF orientation still to apply, for an opened (not yet loaded) image.
    `strict_jpeg`: the JPEG's bytes, to decode strictly (once, when the image is grey or RGB)."""
    frames = int(getattr(image, "n_frames", 1))
    index = choose_frame(frames, frame, what)
    if index:
        image.seek(index)
    width, height = image.size
    check_pixel_count(width, height, max_pixels, what)
    orientation = _orientation(image)
    if strict_jpeg is not None and image.mode in ("L", "RGB"):
        decoded = decode_jpeg_strict(strict_jpeg, image.mode, what)
        pixels = gray_to_rgb(decoded) if decoded.ndim == 2 else decoded
        extra: dict[str, Any] = {}
        still_to_apply = orientation  # a JPEG's EXIF orientation is applied by the caller
    else:
        if strict_jpeg is not None:
            check_jpeg_intact(strict_jpeg, what)
        image.load()
        # Pillow's TIFF loader turns the pixels upright itself (and reports the upright size), then drops
        # the tag.
        still_to_apply = orientation if _orientation(image) == orientation else 1
        pixels, extra = _to_rgb(image, what)
    if still_to_apply == 1 and orientation >= 5:
        width, height = height, width
    metadata: dict[str, Any] = {
        "original_width": width,
        "original_height": height,
        "mode": image.mode,
        "bit_depth": _BIT_DEPTH.get(image.mode, 8),
        "frames": frames,
        "frame": index,
        "exif_orientation": orientation,
        **extra,
    }
    return pixels, metadata, still_to_apply


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except (TypeError, ValueError):
        return 1


def _to_rgb(image: Image.Image, what: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Pixels of a loaded Pillow image as (H, W, 3) uint8 RGB, plus notes on what conversion happened."""
    mode = image.mode
    if mode in _WIDE_GRAY_MODES:
        gray, (low, high) = map_through_lut(np.asarray(image), scale_to_uint8)
        return gray_to_rgb(gray), {"intensity_range": [low, high]}
    if mode in ("1", "L"):
        return np.asarray(image.convert("RGB")), {}
    if mode == "P" and "transparency" not in image.info:
        return np.asarray(image.convert("RGB")), {}
    if mode in ("LA", "La", "PA", "P", "RGBA", "RGBa"):
        rgba = np.asarray(image.convert("RGBA"))
        return composite_on_black(rgba[:, :, :3], rgba[:, :, 3]), {"alpha": "composited on black"}
    if mode in ("RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        return np.asarray(image.convert("RGB")), {}
    array = np.asarray(image)
    if array.ndim == 2:
        gray, (low, high) = scale_to_uint8(array)
        return gray_to_rgb(gray), {"intensity_range": [low, high]}
    raise ImageError(f"{what}: unsupported pixel mode {mode!r}; convert the image to 8-bit RGB or greyscale")
