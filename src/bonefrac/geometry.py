"""Box geometry: the one place for box conversions and IoU, used by every stage (numpy only).

Conventions:
- `xyxy` is (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2 for a proper box; `cxcywh` is (centre x, centre y,
  width, height), YOLO's label and head layout.
- Coordinates are continuous (no "+1" pixel convention, as pycocotools and ultralytics): a box's area is
  (x2 - x1) * (y2 - y1). They may be pixels or normalised 0..1 units: IoU is scale-free, so both work as
  long as the two sides use the same units.
- A box with no area (or an inverted one) overlaps nothing; two boxes whose union is empty have IoU 0.
- Floating inputs keep their dtype (float32 stays float32, as ultralytics' NMS computes it); anything else
  is computed in float64.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _boxes(values: ArrayLike) -> np.ndarray:
    """(N, 4) floating array of boxes (one box (4,) becomes (1, 4))."""
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if array.ndim == 1 and array.shape[0] == 0:
        array = array.reshape(0, 4)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4), got shape {np.shape(values)}")
    return array


def cxcywh_to_xyxy(boxes: ArrayLike) -> np.ndarray:
    """(N, 4) cx, cy, w, h -> (N, 4) x1, y1, x2, y2 (a new array, same units)."""
    b = _boxes(boxes)
    half = b[:, 2:] / 2
    return np.concatenate((b[:, :2] - half, b[:, :2] + half), axis=1)


def xyxy_to_cxcywh(boxes: ArrayLike) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 -> (N, 4) cx, cy, w, h (a new array, same units)."""
    b = _boxes(boxes)
    return np.concatenate(((b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]), axis=1)


def box_area(boxes_xyxy: ArrayLike) -> np.ndarray:
    """(N,) area of each xyxy box (negative for an inverted box; callers that care clip first)."""
    b = _boxes(boxes_xyxy)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def iou_matrix(a_xyxy: ArrayLike, b_xyxy: ArrayLike) -> np.ndarray:
    """IoU of every box of `a` (N, 4) with every box of `b` (M, 4) as an (N, M) array; 0 where the union is
    empty. Computed as pycocotools does (continuous coordinates); float32 inputs give float32."""
    a, b = _boxes(a_xyxy), _boxes(b_xyxy)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    size = np.clip(bottom_right - top_left, 0, None)
    inter = size[..., 0] * size[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def iou_one_to_many(box_xyxy: ArrayLike, boxes_xyxy: ArrayLike) -> np.ndarray:
    """IoU (M,) of one (4,) xyxy box with each of (M, 4) boxes (NMS's inner step)."""
    box = np.asarray(box_xyxy)
    if box.shape != (4,):
        raise ValueError(f"one box must have shape (4,), got {box.shape}")
    return iou_matrix(box, boxes_xyxy)[0]


def boxes_intersect(a_xyxy: ArrayLike, b_xyxy: ArrayLike) -> np.ndarray:
    """(N, M) True where box i of `a` and box j of `b` share area (touching edges do not)."""
    a, b = _boxes(a_xyxy), _boxes(b_xyxy)
    overlap_x = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    overlap_y = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return (overlap_x > 0) & (overlap_y > 0)


def clamp_box_position(
    x: float, y: float, box_width: float, box_height: float, width: float, height: float
) -> tuple[float, float]:
    """A top-left corner moved the least so that a box_width x box_height box lies inside width x height
    (its top-left corner wins when the box is larger than the image)."""
    return max(0.0, min(x, width - box_width)), max(0.0, min(y, height - box_height))


def place_tags(anchors_xyxy: ArrayLike, tag_sizes: ArrayLike, width: float, height: float) -> np.ndarray:
    """Top-left corners (N, 2) for N label tags, one per anchor box, that do not cover each other.

    Tags are placed in the given order (put the most important first): each takes the first free spot of
    above the box's top-left corner, inside it, below the box, inside its bottom, or the same at the right
    edge; when all are taken (nested boxes of one finding share their corners), it is stacked below or above
    its first spot until free. Every tag stays inside the image; a tag that fits nowhere free keeps its
    first spot.
    """
    anchors = _boxes(anchors_xyxy).astype(np.float64)
    sizes = np.asarray(tag_sizes, dtype=np.float64).reshape(-1, 2)
    if len(sizes) != len(anchors):
        raise ValueError(f"one tag size per anchor box: {len(anchors)} boxes, {len(sizes)} sizes")
    placed: list[tuple[float, float, float, float]] = []
    corners = np.zeros((len(anchors), 2), dtype=np.float64)
    for index, ((x1, y1, x2, y2), (tag_w, tag_h)) in enumerate(zip(anchors, sizes, strict=True)):
        wanted = [
            (x1, y1 - tag_h),
            (x1, y1),
            (x1, y2),
            (x1, y2 - tag_h),
            (x2 - tag_w, y1 - tag_h),
            (x2 - tag_w, y2),
        ]
        spots = [clamp_box_position(x, y, tag_w, tag_h, width, height) for x, y in wanted]
        first_x, first_y = spots[0]
        steps = int(height // max(tag_h, 1.0)) + 1
        spots += [(first_x, first_y + k * tag_h) for k in range(1, steps)]
        spots += [(first_x, first_y - k * tag_h) for k in range(1, steps)]
        chosen = spots[0]
        for x, y in spots:
            if y < 0 or y + tag_h > height + 1e-9:
                continue
            tag = (x, y, x + tag_w, y + tag_h)
            if not placed or not boxes_intersect([tag], placed).any():
                chosen = (x, y)
                break
        placed.append((chosen[0], chosen[1], chosen[0] + tag_w, chosen[1] + tag_h))
        corners[index] = chosen
    return corners


def zoom_window(
    width: int, height: int, zoom: float, centre_x: float = 0.5, centre_y: float = 0.5
) -> tuple[int, int, int, int]:
    """The integer pixel crop (x1, y1, x2, y2) that shows 1/zoom of each side of a width x height image around
    (centre_x, centre_y), given as fractions 0..1 of the image; moved inside the image, never empty."""
    if zoom < 1:
        raise ValueError(f"zoom must be 1 or more (1: the whole image), got {zoom}")
    if not (0 <= centre_x <= 1 and 0 <= centre_y <= 1):
        raise ValueError(f"the zoom centre must be fractions 0..1 of the image, got ({centre_x}, {centre_y})")
    crop_w, crop_h = max(1, round(width / zoom)), max(1, round(height / zoom))
    x1, y1 = clamp_box_position(
        round(centre_x * width - crop_w / 2),
        round(centre_y * height - crop_h / 2),
        crop_w,
        crop_h,
        width,
        height,
    )
    return int(x1), int(y1), int(x1) + crop_w, int(y1) + crop_h
