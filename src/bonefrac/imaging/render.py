"""Detections drawn on images (boxes and "name 0.87" labels; solid or dashed outlines), and PNG encoding."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bonefrac.errors import ImageError
from bonefrac.records import Detections, Radiograph

# Colours per class id (cycled), chosen to stand out on grey radiographs.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 56, 56),
    (255, 178, 29),
    (72, 249, 10),
    (0, 194, 255),
    (255, 55, 199),
    (146, 204, 23),
    (52, 69, 147),
    (255, 112, 31),
)


BoxStyle = Literal["solid", "dashed"]
BOX_STYLES: tuple[BoxStyle, ...] = ("solid", "dashed")

# Fonts are cached and shared; FreeType faces are not safe to render from two threads at once.
_FONT_LOCK = threading.Lock()


def line_width_for(height: int, width: int) -> int:
    """Box outline width in pixels: about 1/300 of the shorter side, at least 1."""
    return max(1, round(min(height, width) / 300))


def font_size_for(height: int, width: int) -> int:
    """Label text height in pixels: about 1/40 of the shorter side, between 10 and 64."""
    return int(min(64, max(10, round(min(height, width) / 40))))


def draw_detections(
    image: Radiograph | np.ndarray,
    detections: Detections,
    *,
    threshold: float | None = None,
    styles: Sequence[str] | None = None,
) -> np.ndarray:
    """A copy of `image` as (H, W, 3) uint8 with each detection's box and "name 0.87" label drawn.

    `threshold` keeps only detections with confidence >= threshold. `styles` gives each detection's outline,
    "solid" or "dashed" (default: all solid). Boxes are clipped to the image; boxes with non-finite
    coordinates are skipped.
    """
    pixels = _as_rgb(image)
    outline = np.array(_checked_styles(styles, len(detections)), dtype=object)
    keep = np.isfinite(detections.xyxy).all(axis=1)  # a NaN/inf box cannot be placed
    if threshold is not None:
        keep &= detections.confidence >= threshold
    shown, outline = detections.select(keep), outline[keep]
    canvas = Image.fromarray(pixels, mode="RGB")
    if not len(shown):
        return np.asarray(canvas).copy()
    height, width = pixels.shape[:2]
    line = line_width_for(height, width)
    font = _font(font_size_for(height, width))
    draw = ImageDraw.Draw(canvas)
    order = np.argsort(shown.confidence)  # most confident drawn last, on top
    for i in order:
        x1, y1, x2, y2 = (float(v) for v in shown.xyxy[i])
        x1, x2 = np.clip([x1, x2], 0, width - 1)
        y1, y2 = np.clip([y1, y2], 0, height - 1)
        class_id = int(shown.class_id[i])
        colour = PALETTE[class_id % len(PALETTE)]
        if outline[i] == "dashed":
            _dashed_rectangle(draw, (x1, y1, x2, y2), colour, line)
        else:
            draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        label = f"{_class_name(shown, class_id)} {float(shown.confidence[i]):.2f}"
        _draw_label(draw, label, (x1, y1, y2), colour, font, width, height)
    return np.asarray(canvas).copy()


def dash_length_for(line: int) -> int:
    """Length of one dash (and of the gap after it) for an outline `line` pixels wide."""
    return max(4, 4 * line)


def _checked_styles(styles: Sequence[str] | None, count: int) -> list[str]:
    if styles is None:
        return ["solid"] * count
    styles = list(styles)
    if len(styles) != count:
        raise ValueError(f"styles must have one entry per detection ({count}), got {len(styles)}")
    unknown = sorted(set(styles) - set(BOX_STYLES))
    if unknown:
        raise ValueError(f"box styles must be one of {BOX_STYLES}, got {unknown}")
    return styles


def _dashed_rectangle(
    draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], colour: tuple[int, int, int], line: int
) -> None:
    """A rectangle outline of dashes, `line` pixels wide, inside the box as Pillow's rectangle draws it."""
    x1, y1, x2, y2 = box
    dash = dash_length_for(line)
    inset = (line - 1) / 2  # Pillow draws a wide outline inwards from the box edge
    left, top, right, bottom = x1 + inset, y1 + inset, x2 - inset, y2 - inset
    if right < left or bottom < top:
        draw.rectangle(box, outline=colour, width=line)  # too small for dashes
        return
    for start, end, fixed, horizontal in (
        (left, right, top, True),
        (left, right, bottom, True),
        (top, bottom, left, False),
        (top, bottom, right, False),
    ):
        position = start
        while position <= end:
            stop = min(position + dash - 1, end)
            if horizontal:
                draw.line((position, fixed, stop, fixed), fill=colour, width=line)
            else:
                draw.line((fixed, position, fixed, stop), fill=colour, width=line)
            position += 2 * dash


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a (H, W) or (H, W, 3|4) uint8 array (or a Radiograph's pixels)."""
    array = np.asarray(pixels)
    channels_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))
    if array.dtype != np.uint8 or not channels_ok:
        raise ImageError(
            f"encode_png needs (H, W) or (H, W, 3|4) uint8 pixels, got {array.shape} {array.dtype}"
        )
    if array.size == 0:
        raise ImageError(f"encode_png needs a non-empty image, got shape {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", compress_level=4)
    return buffer.getvalue()


def _as_rgb(image: Radiograph | np.ndarray) -> np.ndarray:
    array = image.pixels if isinstance(image, Radiograph) else np.asarray(image)
    if array.dtype != np.uint8:
        raise ImageError(f"draw_detections needs uint8 pixels, got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim != 3 or array.shape[2] != 3 or array.size == 0:
        raise ImageError(f"draw_detections needs (H, W), (H, W, 3) or (H, W, 4) pixels, got {array.shape}")
    return np.ascontiguousarray(array)


def _class_name(detections: Detections, class_id: int) -> str:
    names = detections.class_names
    return names[class_id] if 0 <= class_id < len(names) else str(class_id)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font at `size` (no download); the fixed bitmap font where FreeType is missing."""
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):
        return ImageFont.load_default()


def _draw_label(
    draw: ImageDraw.ImageDraw,
    label: str,
    box: tuple[float, float, float],
    colour: tuple[int, int, int],
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    width: int,
    height: int,
) -> None:
    """Label on a filled tag above the box's top-left corner, or inside the box when there is no room."""
    x1, y1, _ = box
    with _FONT_LOCK:
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    text_w, text_h = right - left, bottom - top
    pad = max(1, text_h // 5)
    tag_h = text_h + 2 * pad
    tag_y = y1 - tag_h if y1 - tag_h >= 0 else y1
    tag_x = min(max(0.0, x1), max(0.0, width - text_w - 2 * pad))
    tag_y = min(tag_y, max(0.0, height - tag_h))
    draw.rectangle((tag_x, tag_y, tag_x + text_w + 2 * pad, tag_y + tag_h), fill=colour)
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    text_colour = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    with _FONT_LOCK:
        draw.text((tag_x + pad - left, tag_y + pad - top), label, fill=text_colour, font=font)
