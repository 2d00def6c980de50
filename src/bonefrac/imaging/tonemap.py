"""Turning wide or odd pixel values into display-ready uint8 (shared by raster and DICOM decoding)."""

from __future__ import annotations

import numpy as np


def scale_to_uint8(values: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Stretch `values` linearly so their actual minimum maps to 0 and maximum to 255.

    Wide-range radiographs rarely use their full nominal range (12-bit data in 16-bit containers),
    so scaling by the actual range keeps them visible. A constant image maps to 0. NaN counts as 0.
    Returns the uint8 array and the (low, high) range used.
    """
    data = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if high <= low:
        return np.zeros(data.shape, np.uint8), (low, high)
    scaled = (data - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8), (low, high)


def gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    """(H, W) uint8 -> (H, W, 3) uint8, contiguous."""
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


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
