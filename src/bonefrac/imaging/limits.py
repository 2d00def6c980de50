"""Size limits checked from headers before any pixel is decoded (decompression bombs)."""

from __future__ import annotations

from bonefrac.errors import ImageError

# 50 megapixels: above the largest radiography detectors (43 x 43 cm at 100 um is 4300 x 4300 = 18.5 MP;
# full-field mammography about 24 MP), far below what would exhaust memory when decoded to RGB.
DEFAULT_MAX_PIXELS = 50_000_000


def check_pixel_count(width: int, height: int, max_pixels: int, what: str) -> None:
    """Raise ImageError when a width x height image (as its header claims) exceeds `max_pixels`."""
    if width <= 0 or height <= 0:
        raise ImageError(f"{what}: header gives an empty image size {width} x {height}")
    if width * height > max_pixels:
        raise ImageError(
            f"{what}: image is {width} x {height} = {width * height:,} pixels, above the limit of "
            f"{max_pixels:,} pixels (refused before decoding; raise max_pixels if this image is genuine)"
        )


def choose_frame(frames: int, frame: int | None, what: str) -> int:
    """The frame index to decode: required (0..frames-1) for multi-frame files, 0 or None otherwise."""
    if frame is None:
        if frames > 1:
            raise ImageError(f"{what}: file holds {frames} frames; choose one with frame=0..{frames - 1}")
        return 0
    if not 0 <= frame < frames:
        raise ImageError(
            f"{what}: frame {frame} is out of range; the file holds {frames} frame(s), 0..{frames - 1}"
        )
    return frame
