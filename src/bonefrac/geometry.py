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
