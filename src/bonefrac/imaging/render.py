"""Detections drawn on images (boxes and "name 0.87" labels; solid or dashed outlines), and PNG encoding."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bonefrac.errors import ImageError
from bonefrac.geometry import place_tags
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
    """Label text height in pixels: about 1/32 of the longer side, between 11 and 96, so that a label stays
    about 12 px high or more when the image is shown in half of a 1280 px wide window."""
    return int(min(96, max(11, round(max(height, width) / 32))))


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
    coordinates are skipped. Labels never cover each other (nested boxes of one finding included): the
    most confident box gets the best spot.
    """
    pixels = _as_rgb(image)
    outline = np.array(_checked_styles(styles, len(detections)), dtype=object)
    keep = np.isfinite(detections.xyxy).all(axis=1)  # a NaN/inf box cannot be placed
    if threshold is not None:
        keep &= detections.confidence >= threshold
    shown, outline = detections.select(keep), outline[keep]
    order = np.argsort(shown.confidence, kind="stable")  # most confident drawn last, on top
    boxes = [
        LabelledBox(
            xyxy=tuple(float(v) for v in shown.xyxy[i]),  # type: ignore[arg-type]
            label=f"{_class_name(shown, int(shown.class_id[i]))} {float(shown.confidence[i]):.2f}",
            colour=PALETTE[int(shown.class_id[i]) % len(PALETTE)],
            style=str(outline[i]),
        )
        for i in order
    ]
    return draw_boxes(pixels, boxes)


@dataclass(frozen=True)
class LabelledBox:
    """One box to draw: pixel corners, its label text, colour and outline style."""

    xyxy: tuple[float, float, float, float]
    label: str
    colour: tuple[int, int, int]
    style: str = "solid"


def draw_boxes(image: Radiograph | np.ndarray, boxes: Sequence[LabelledBox]) -> np.ndarray:
    """A copy of `image` as (H, W, 3) uint8 with the boxes drawn in order (the last on top) and their labels
    on filled tags above all outlines, placed so that no tag covers another (the last box's tag first)."""
    pixels = _as_rgb(image)
    canvas = Image.fromarray(pixels, mode="RGB")
    if not boxes:
        return np.asarray(canvas).copy()
    _checked_styles([box.style for box in boxes], len(boxes))
    height, width = pixels.shape[:2]
    line = line_width_for(height, width)
    font = _font(font_size_for(height, width))
    draw = ImageDraw.Draw(canvas)
    clipped = []
    for box in boxes:
        x1, y1, x2, y2 = box.xyxy
        x1, x2 = np.clip([x1, x2], 0, width - 1)
        y1, y2 = np.clip([y1, y2], 0, height - 1)
        clipped.append((float(x1), float(y1), float(x2), float(y2)))
        if box.style == "dashed":
            _dashed_rectangle(draw, clipped[-1], box.colour, line)
        else:
            draw.rectangle(clipped[-1], outline=box.colour, width=line)
    tags = [_tag_layout(draw, box.label, font) for box in boxes]
    priority = list(range(len(boxes)))[::-1]  # the box drawn on top gets the best spot
    corners = place_tags(
        [clipped[i] for i in priority], [tags[i][:2] for i in priority], float(width), float(height)
    )
    for (tag_x, tag_y), i in zip(corners, priority, strict=True):
        _draw_tag(draw, boxes[i].label, (float(tag_x), float(tag_y)), tags[i], boxes[i].colour, font)
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


def _tag_layout(
    draw: ImageDraw.ImageDraw, label: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont
) -> tuple[float, float, float, float, float]:
    """(tag width, tag height, padding, text bbox left, text bbox top) of a label's filled tag."""
    with _FONT_LOCK:
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    text_w, text_h = right - left, bottom - top
    pad = max(1, text_h // 5)
    return text_w + 2 * pad, text_h + 2 * pad, pad, left, top


def _draw_tag(
    draw: ImageDraw.ImageDraw,
    label: str,
    corner: tuple[float, float],
    layout: tuple[float, float, float, float, float],
    colour: tuple[int, int, int],
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> None:
    """The label on a filled tag at `corner`, in black or white, whichever reads better on the colour."""
    tag_w, tag_h, pad, left, top = layout
    x, y = corner
    draw.rectangle((x, y, x + tag_w, y + tag_h), fill=colour)
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    text_colour = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    with _FONT_LOCK:
        draw.text((x + pad - left, y + pad - top), label, fill=text_colour, font=font)
