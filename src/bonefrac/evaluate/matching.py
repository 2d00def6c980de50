"""Match detections to ground-truth boxes exactly as pycocotools' COCOeval does, for every IoU threshold.

Greedy in score order, per image and class: each detection takes the unmatched ground-truth box with the
highest IoU >= the threshold (ties go to the later box, as in COCOeval), preferring boxes that are not
ignored. Ground truth outside an area range is "ignored": a detection matched to it, or an unmatched
detection outside the range, counts neither as a true nor as a false positive. Because matching is greedy in
score order, the matches of the top-k detections do not depend on the rest, so one matching serves every
confidence threshold and every max-detections cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bonefrac.evaluate.predictions import GroundTruth, ImagePrediction
from bonefrac.geometry import iou_matrix

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
ALL_AREAS = (0.0, float("inf"))


def match_image(
    det_xyxy: np.ndarray,
    gt_xyxy: np.ndarray,
    gt_ignore: np.ndarray,
    det_ignore_if_unmatched: np.ndarray,
    iou_thresholds: np.ndarray = IOU_THRESHOLDS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match detections (already in descending score order) to ground truth for each IoU threshold.

    Returns (tp, ignored, gt_matched): tp and ignored are (T, D) booleans, gt_matched is (T, G) booleans.
    """
    n_t, n_d, n_g = len(iou_thresholds), len(det_xyxy), len(gt_xyxy)
    tp = np.zeros((n_t, n_d), dtype=bool)
    ignored = np.zeros((n_t, n_d), dtype=bool)
    gt_matched = np.zeros((n_t, n_g), dtype=bool)
    if n_d == 0:
        return tp, ignored, gt_matched
    if n_g:
        gt_ignore = np.asarray(gt_ignore, dtype=bool)
        order = np.argsort(gt_ignore, kind="mergesort")  # non-ignored first, as COCOeval
        ious = iou_matrix(np.asarray(det_xyxy, np.float64), np.asarray(gt_xyxy, np.float64)[order])
        ign_sorted = gt_ignore[order]
        for ti, threshold in enumerate(iou_thresholds):
            floor = min(float(threshold), 1 - 1e-10)
            taken = np.zeros(n_g, dtype=bool)
            reachable = np.flatnonzero(ious.max(axis=1) >= floor)  # the others can never match
            for d in reachable:
                candidate = (~taken) & (ious[d] >= floor)
                if not candidate.any():
                    continue
                for group in (candidate & ~ign_sorted, candidate & ign_sorted):
                    if group.any():
                        values = np.where(group, ious[d], -1.0)
                        best = n_g - 1 - int(np.argmax(values[::-1]))  # the last of equal maxima
                        break
                taken[best] = True
                gt_matched[ti, order[best]] = True
                if ign_sorted[best]:
                    ignored[ti, d] = True
                else:
                    tp[ti, d] = True
    unmatched = ~(tp | ignored)
    ignored |= unmatched & np.asarray(det_ignore_if_unmatched, dtype=bool)[None, :]
    return tp, ignored, gt_matched


@dataclass(frozen=True)
class MatchTable:
    """Every detection of one class (or all classes) over a set of images, in COCO evaluation order.

    Order: descending score, ties in image order then per-image rank (a stable sort, as COCOeval).
    """

    image_index: np.ndarray  # (D,) index of the image each detection belongs to
    score: np.ndarray  # (D,)
    rank: np.ndarray  # (D,) rank of the detection by score within its image and class (0 = best)
    tp: np.ndarray  # (T, D) matched to a ground-truth box that is not ignored
    ignored: np.ndarray  # (T, D) neither true nor false positive
    gt_count: np.ndarray  # (N,) ground-truth boxes per image that are not ignored
    iou_thresholds: np.ndarray  # (T,)

    @property
    def n_images(self) -> int:
        return int(self.gt_count.shape[0])

    def at_iou(self, threshold: float) -> int:
        """Index of an IoU threshold in this table."""
        hits = np.flatnonzero(np.isclose(self.iou_thresholds, threshold))
        if hits.size == 0:
            raise ValueError(f"IoU {threshold} not among {self.iou_thresholds.tolist()}")
        return int(hits[0])


def relative_area(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Box area as a fraction of the image area."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]) / float(width * height)


def build_match_table(
    predictions: Sequence[ImagePrediction],
    truths: Sequence[GroundTruth],
    class_id: int | None,
    area_range: tuple[float, float] = ALL_AREAS,
    iou_thresholds: np.ndarray = IOU_THRESHOLDS,
) -> MatchTable:
    """Match one class (`class_id`; None pools all classes, matching still within each class) over images.

    `area_range` is relative to the image area, inclusive at both ends, as COCOeval's areaRng.
    """
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} predictions but {len(truths)} ground truths")
    lo, hi = area_range
    parts: list[tuple[np.ndarray, ...]] = []
    gt_count = np.zeros(len(truths), dtype=np.int64)
    for index, (pred, truth) in enumerate(zip(predictions, truths, strict=True)):
        det = pred.detections
        classes = (
            np.unique(np.concatenate([det.class_id, truth.class_id])) if class_id is None else [class_id]
        )
        for cls in classes:
            d_mask = det.class_id == cls
            g_mask = truth.class_id == cls
            gt_boxes = truth.xyxy[g_mask]
            g_area = relative_area(gt_boxes, truth.width, truth.height)
            g_ignore = (g_area < lo) | (g_area > hi)
            gt_count[index] += int((~g_ignore).sum())
            scores = det.confidence[d_mask]
            order = np.argsort(-scores, kind="mergesort")
            boxes = det.xyxy[d_mask][order]
            d_area = relative_area(boxes, pred.width, pred.height)
            tp, ign, _ = match_image(boxes, gt_boxes, g_ignore, (d_area < lo) | (d_area > hi), iou_thresholds)
            n = len(order)
            parts.append((np.full(n, index), scores[order], np.arange(n), tp, ign))
    n_t = len(iou_thresholds)
    if parts:
        image_index = np.concatenate([p[0] for p in parts]).astype(np.int64)
        score = np.concatenate([p[1] for p in parts]).astype(np.float64)
        rank = np.concatenate([p[2] for p in parts]).astype(np.int64)
        tp = np.concatenate([p[3] for p in parts], axis=1)
        ign = np.concatenate([p[4] for p in parts], axis=1)
    else:
        image_index = np.zeros(0, np.int64)
        score = np.zeros(0)
        rank = np.zeros(0, np.int64)
        tp = ign = np.zeros((n_t, 0), dtype=bool)
    order = np.argsort(-score, kind="mergesort")
    return MatchTable(
        image_index=image_index[order],
        score=score[order],
        rank=rank[order],
        tp=tp[:, order],
        ignored=ign[:, order],
        gt_count=gt_count,
        iou_thresholds=np.asarray(iou_thresholds, dtype=np.float64),
    )
