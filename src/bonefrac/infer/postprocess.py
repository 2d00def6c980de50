"""Decode a YOLO detect head's raw output and suppress duplicates, in numpy, as ultralytics does.

The exported YOLO11 detect model returns (batch, 4 + nc, anchors): centre x, centre y, width, height in input
pixels, then one sigmoid score per class. `decode` keeps the best class per anchor above the threshold,
`nms` is greedy IoU suppression, made class-aware by offsetting each class's boxes (ultralytics' `max_wh`
trick), and `unletterbox_boxes` maps boxes back to the original image and clips them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bonefrac.geometry import cxcywh_to_xyxy, iou_one_to_many
from bonefrac.infer.preprocess import LetterboxParams

MAX_WH = 7680.0  # per-class coordinate offset that keeps classes apart in NMS (ultralytics' value)
MAX_NMS = 30000  # boxes kept (by score) before NMS
MAX_DET = 300  # boxes kept after NMS


@dataclass(frozen=True)
class RawBoxes:
    """Candidate boxes of one image in model-input pixels."""

    xyxy: np.ndarray  # (N, 4) float32
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int64


def decode(output: np.ndarray, conf: float, num_classes: int | None = None) -> RawBoxes:
    """Boxes of one image from a (4 + nc, anchors) head output: best class per anchor, score > conf."""
    if output.ndim != 2 or output.shape[0] < 5:
        raise ValueError(f"head output must be (4 + classes, anchors) with classes >= 1, got {output.shape}")
    nc = num_classes if num_classes is not None else output.shape[0] - 4
    if output.shape[0] != 4 + nc:
        raise ValueError(f"head output has {output.shape[0] - 4} class rows, the model names {nc} classes")
    scores = output[4:]
    if nc == 1:
        best = scores[0]
        keep = np.flatnonzero(best > conf)
        class_id = np.zeros(keep.size, np.int64)
        confidence = best[keep]
    else:
        keep = np.flatnonzero(scores.max(axis=0) > conf)
        candidate = scores[:, keep]
        class_id = candidate.argmax(axis=0).astype(np.int64)
        confidence = candidate[class_id, np.arange(keep.size)]
    xyxy = cxcywh_to_xyxy(output[:4, keep].T).astype(np.float32)
    return RawBoxes(xyxy, confidence.astype(np.float32), class_id)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou: float, class_id: np.ndarray | None = None) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, best first; boxes of different classes never interact.

    A box is dropped when its IoU with a kept, higher-scoring box of its class is strictly above `iou`.
    """
    if not 0.0 <= iou <= 1.0:
        raise ValueError(f"iou must be in [0, 1], got {iou}")
    n = xyxy.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    boxes = xyxy.astype(np.float32, copy=True)
    if class_id is not None:
        boxes += (class_id.astype(np.float32) * MAX_WH)[:, None]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[best], boxes[rest]) <= iou]
    return np.asarray(keep, np.int64)


def unletterbox_boxes(xyxy: np.ndarray, params: LetterboxParams) -> np.ndarray:
    """Boxes in model-input pixels -> original pixels, clipped to the image (ultralytics' scale_boxes)."""
    out = xyxy.astype(np.float32, copy=True)
    out[:, [0, 2]] -= params.pad_left
    out[:, [1, 3]] -= params.pad_top
    out[:, [0, 2]] /= params.gain_x
    out[:, [1, 3]] /= params.gain_y
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, params.orig_width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, params.orig_height)
    return out


def postprocess(
    output: np.ndarray,
    params: LetterboxParams,
    conf: float,
    iou: float,
    num_classes: int | None = None,
    max_det: int = MAX_DET,
) -> RawBoxes:
    """One image's head output -> kept boxes in original pixels, best first."""
    raw = decode(output, conf, num_classes)
    if raw.xyxy.shape[0] > MAX_NMS:
        top = np.argsort(-raw.confidence, kind="stable")[:MAX_NMS]
        raw = RawBoxes(raw.xyxy[top], raw.confidence[top], raw.class_id[top])
    keep = nms(raw.xyxy, raw.confidence, iou, raw.class_id)[:max_det]
    return RawBoxes(unletterbox_boxes(raw.xyxy[keep], params), raw.confidence[keep], raw.class_id[keep])
