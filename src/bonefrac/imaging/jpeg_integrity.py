"""Does libjpeg report a JPEG's data as corrupt or missing? Pillow decodes such files quietly (the missing
rows come out grey), so a decoder that reports every recoverable error checks them: simplejpeg (libjpeg-turbo)
in strict mode, at 1/8 scale (the whole entropy-coded data is still read, at a fraction of the cost), or at
full scale when its pixels are the ones used (`decode_jpeg_strict`: one decode, not a check and a decode).
"""

from __future__ import annotations

import numpy as np
import simplejpeg

from bonefrac.errors import ImageError


def decode_jpeg_strict(data: bytes, mode: str, what: str) -> np.ndarray:
    """The pixels of an 8-bit JPEG whose Pillow mode is "L" (H, W grey) or "RGB" (H, W, 3), decoded by
    libjpeg-turbo as Pillow decodes them (accurate IDCT, smooth upsampling); ImageError when libjpeg reports
    corrupt or missing data anywhere."""
    colorspace = {"L": "GRAY", "RGB": "RGB"}[mode]
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace=colorspace, strict=True)
    except ValueError as exc:
        raise ImageError(
            f"{what}: JPEG data is corrupt or incomplete ({exc}); send the complete, original file"
        ) from exc
    return pixels[:, :, 0] if mode == "L" else pixels


def check_jpeg_intact(data: bytes, what: str) -> None:
    """Raise ImageError when libjpeg reports corrupt or missing data anywhere in the JPEG `data`."""
    try:
        simplejpeg.decode_jpeg(data, colorspace="GRAY", min_factor=8, strict=True)
    except ValueError as exc:
        raise ImageError(
            f"{what}: JPEG data is corrupt or incomplete ({exc}); send the complete, original file"
        ) from exc
