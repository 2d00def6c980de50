"""Turning wide or odd pixel values into display-ready uint8 (shared by raster and DICOM decoding)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def scale_to_uint8(
    values: np.ndarray, present: np.ndarray | None = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """Stretch `values` linearly so their actual minimum maps to 0 and maximum to 255.

    Wide-range radiographs rarely use their full nominal range (12-bit data in 16-bit containers),
    so scaling by the actual range keeps them visible. A constant image maps to 0. NaN counts as 0.
    `present` (boolean, same shape) limits the min/max to those entries (used by map_through_lut).
    Returns the uint8 array and the (low, high) range used.
    """
    data = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    considered = data if present is None else data[present]
    low, high = (float(considered.min()), float(considered.max())) if considered.size else (0.0, 0.0)
    if high <= low:
        return np.zeros(data.shape, np.uint8), (low, high)
    scaled = (data - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8), (low, high)


def apply_window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 windowing of values to 0..255 uint8 (DICOM decoding, the UI's window/level)."""
    values = np.asarray(values, dtype=np.float64)
    if function == "SIGMOID":
        out = 255.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    elif function == "LINEAR_EXACT":
        out = ((values - center) / width + 0.5) * 255.0
    else:  # LINEAR (also the meaning of an unknown function)
        out = ((values - (center - 0.5)) / (width - 1.0) + 0.5) * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def map_through_lut(
    stored: np.ndarray,
    transform: Callable[[np.ndarray, np.ndarray | None], tuple[np.ndarray, T]],
    *,
    ignore_value: int | None = None,
) -> tuple[np.ndarray, T]:
    """Apply a per-value `transform` (values, present) -> (uint8 values, info) to every pixel of `stored`.

    8- and 16-bit integer images go through a lookup table: `transform` runs once on every possible value
    (with `present` marking the values between the image's minimum and maximum, for range-based transforms),
    then one gather maps the pixels. For transforms that are monotonic in the stored value (rescale, windows)
    this gives exactly the result of transforming the pixels directly, many times faster on large images.
    Other dtypes (32-bit, float) are transformed directly. `ignore_value` (DICOM pixel padding) is left out
    of the range that `present` describes; present is None only when every value counts.
    """
    array = np.asarray(stored)
    if array.dtype.kind not in "ui" or array.dtype.itemsize > 2:
        return transform(array, None if ignore_value is None else array != ignore_value)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    code_type = np.uint8 if array.dtype.itemsize == 1 else np.uint16
    codes = array.view(code_type)
    every_value = np.arange(1 << (8 * array.dtype.itemsize), dtype=code_type).view(array.dtype)
    counted = array if ignore_value is None else array[array != ignore_value]
    if counted.size:
        present = (every_value >= counted.min()) & (every_value <= counted.max())
    else:
        present = np.zeros(every_value.shape, bool)
    if ignore_value is not None:
        present &= every_value != ignore_value
    table, info = transform(every_value, present)
    return table[codes], info


def gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    """(H, W) uint8 -> (H, W, 3) uint8, contiguous."""
    return np.repeat(gray[:, :, None], 3, axis=2)


def composite_on_black(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Blend (H, W, C) uint8 colour over black using (H, W) uint8 alpha: transparent becomes black.

    Black is the background of a radiograph, so transparent margins stay out of the way of the detector.
    """
    weight = alpha.astype(np.float32)[:, :, None] / 255.0
    return np.clip(np.rint(rgb.astype(np.float32) * weight), 0, 255).astype(np.uint8)


# EXIF orientation tag value -> how to turn the stored pixels upright (same as PIL.ImageOps.exif_transpose).
def apply_exif_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip (H, W, ...) `pixels` as EXIF orientation 1-8 says; other values leave them unchanged."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return pixels if op is None else np.ascontiguousarray(op(pixels))
