"""How the UI shows a radiograph: window/level on its display values, then zoom (a crop around a point).

Radiologists read bone with a narrow window; the window here applies to the 8-bit display pixels (a DICOM has
already been windowed to them by its own window or range), with DICOM's linear window function. The view is
applied alike to the original, the prediction and the reference, so they stay comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bonefrac.geometry import zoom_window
from bonefrac.imaging.tonemap import apply_window

FULL_WINDOW = (128, 256)  # centre, width: every display value unchanged
MAX_ZOOM = 8.0


@dataclass(frozen=True)
class View:
    """Window centre and width (display values 0..255) and zoom (1: whole image) around a point (0..1)."""

    window_centre: float = FULL_WINDOW[0]
    window_width: float = FULL_WINDOW[1]
    zoom: float = 1.0
    centre_x: float = 0.5
    centre_y: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.window_centre <= 255:
            raise ValueError(f"the window centre must be a display value 0..255, got {self.window_centre}")
        if not 2 <= self.window_width <= 256:
            raise ValueError(f"the window width must be 2..256 display values, got {self.window_width}")
        if not 1 <= self.zoom <= MAX_ZOOM:
            raise ValueError(f"zoom must be 1..{MAX_ZOOM:g}, got {self.zoom}")

    @property
    def is_full(self) -> bool:
        """True when the view shows the whole image unchanged."""
        return (self.window_centre, self.window_width) == FULL_WINDOW and self.zoom == 1

    def describe(self) -> str:
        """ "window 128/256, zoom 1x" style text for captions."""
        return (
            f"window centre {self.window_centre:g}, width {self.window_width:g}; zoom {self.zoom:g}x "
            f"around ({self.centre_x:.2f}, {self.centre_y:.2f})"
        )


def window_lut(centre: float, width: float) -> np.ndarray:
    """The 256-entry lookup table of a linear window over display values."""
    if (centre, width) == FULL_WINDOW:
        return np.arange(256, dtype=np.uint8)
    return apply_window(np.arange(256), centre, width)


def apply_view(pixels: np.ndarray, view: View) -> np.ndarray:
    """(H, W[, C]) uint8 pixels windowed (grey values through the window; colour drawn on them kept) and
    cropped to the zoom; a new array."""
    array = np.asarray(pixels)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"the view needs (H, W) or (H, W, C) uint8 pixels, got {array.shape} {array.dtype}")
    height, width = array.shape[:2]
    x1, y1, x2, y2 = zoom_window(width, height, view.zoom, view.centre_x, view.centre_y)
    cropped = array[y1:y2, x1:x2]
    table = window_lut(view.window_centre, view.window_width)
    if array.ndim == 3:
        grey = (cropped == cropped[..., :1]).all(axis=2)  # boxes and labels are coloured: keep them
        return np.where(grey[..., None], table[cropped], cropped)
    return table[cropped]
