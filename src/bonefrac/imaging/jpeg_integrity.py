"""Does libjpeg report a JPEG's data as corrupt or missing? Pillow decodes such files quietly (the missing
rows come out grey), so a decoder that reports every recoverable error checks them: simplejpeg (libjpeg-turbo)
in strict mode, at 1/8 scale (the whole entropy-coded data is still read, at a fraction of the cost).
"""

from __future__ import annotations

import simplejpeg

from bonefrac.errors import ImageError


def check_jpeg_intact(data: bytes, what: str) -> None:
    """Raise ImageError when libjpeg reports corrupt or missing data anywhere in the JPEG `data`."""
    try:
        simplejpeg.decode_jpeg(data, colorspace="GRAY", min_factor=8, strict=True)
    except ValueError as exc:
        raise ImageError(
            f"{what}: JPEG data is corrupt or incomplete ({exc}); send the complete, original file"
        ) from exc
