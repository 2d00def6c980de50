"""Detection and clinical metrics as functions of per-image weights.

Every metric here takes a weight matrix W of shape (B, N): one row per evaluation, one column per image.
A row of ones is the plain evaluation; a row of 0/1 restricts it to a group of images (body region, view);
a row of multinomial counts is one bootstrap resample. Because matching is per image, resampling images
only re-weights the detections and ground truth of each image, so B resamples are a few matrix products
instead of B re-evaluations.

Average precision follows pycocotools' COCOeval.accumulate: precision made monotone from the right,
sampled at 101 recall points (0, 0.01, ..., 1), recall points not reached count as 0.
"""

from __future__ import annotations

import numpy as np

from bonefrac.evaluate.matching import MatchTable

RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
FROC_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
_EPS = np.spacing(1)


def _as_weights(weights: np.ndarray, n_images: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] != n_images:
        raise ValueError(f"weights must be (B, {n_images}), got {tuple(w.shape)}")
    return w


def _counts_at_tp_points(
    table: MatchTable, t_index: int, max_dets: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per image, how many counted detections (Cv) and true positives (Ct) lie at or before each TP.

    Both are (N, K) for the K true positives in table order. Precision and recall change direction only
    at true positives, so these points carry everything AP and FROC need.
    """
    keep = np.ones(table.score.shape[0], dtype=bool) if max_dets is None else table.rank < max_dets
    tp = keep & table.tp[t_index]
    counted = keep & ~table.ignored[t_index]
    tp_pos = np.flatnonzero(tp)
    k, n = tp_pos.size, table.n_images
    hist_v = np.zeros((n, k + 1))
    counted_pos = np.flatnonzero(counted)
    np.add.at(hist_v, (table.image_index[counted_pos], np.searchsorted(tp_pos, counted_pos, side="left")), 1)
    hist_t = np.zeros((n, k + 1))
    hist_t[table.image_index[tp_pos], np.arange(k)] = 1
    return np.cumsum(hist_v, axis=1)[:, :k], np.cumsum(hist_t, axis=1)[:, :k]


def _sorted_rows_searchsorted(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """searchsorted(rows[b], values, 'left') for every row b of a row-wise sorted (B, K) array in [0, 1]."""
    b, k = rows.shape
    offset = 2.0 * np.arange(b)[:, None]
    flat = (rows + offset).ravel()
    found = np.searchsorted(flat, (values[None, :] + offset).ravel(), side="left").reshape(b, -1)
    return found - (np.arange(b) * k)[:, None]


def average_precision(table: MatchTable, weights: np.ndarray, max_dets: int | None = 100) -> np.ndarray:
    """(B, T) AP per weight row and IoU threshold; NaN where the weighted images hold no ground truth."""
    w = _as_weights(weights, table.n_images)
    n_gt = w @ table.gt_count
    result = np.full((w.shape[0], len(table.iou_thresholds)), np.nan)
    has_gt = n_gt > 0
    if not has_gt.any():
        return result
    w = w[has_gt]
    for t_index in range(len(table.iou_thresholds)):
        counted, true_pos = _counts_at_tp_points(table, t_index, max_dets)
        if counted.shape[1] == 0:
            result[has_gt, t_index] = 0.0
            continue
        tp = w @ true_pos
        recall = tp / n_gt[has_gt][:, None]
        precision = tp / (w @ counted + _EPS)
        envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
        index = _sorted_rows_searchsorted(recall, RECALL_THRESHOLDS)
        padded = np.concatenate([envelope, np.zeros((envelope.shape[0], 1))], axis=1)
        result[has_gt, t_index] = np.take_along_axis(padded, index, axis=1).mean(axis=1)
    return result


def froc_sensitivities(
    table: MatchTable, weights: np.ndarray, rates: tuple[float, ...] = FROC_RATES, iou: float = 0.5
) -> np.ndarray:
    """(B, len(rates)) lesion sensitivity at <= each mean number of false positives per image.

    The best sensitivity any confidence threshold reaches while keeping the mean false positives per image
    (over all images, backgrounds included) at or below the rate. NaN where no ground truth is weighted.
    """
    w = _as_weights(weights, table.n_images)
    counted, true_pos = _counts_at_tp_points(table, table.at_iou(iou), None)
    n_gt = w @ table.gt_count
    n_images = w.sum(axis=1)
    tp = w @ true_pos
    fp = w @ counted - tp
    result = np.zeros((w.shape[0], len(rates)))
    if tp.shape[1]:
        for j, rate in enumerate(rates):
            reach = (fp <= rate * n_images[:, None] + 1e-9).sum(axis=1)
            best = np.take_along_axis(tp, np.maximum(reach - 1, 0)[:, None], axis=1)[:, 0]
            result[:, j] = np.where(reach > 0, best, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_gt[:, None] > 0, result / n_gt[:, None], np.nan)


def froc_curve(table: MatchTable, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean false positives per image, lesion sensitivity, threshold) at every detection, unweighted."""
    t_index = table.at_iou(iou)
    tp = np.cumsum(table.tp[t_index])
    fp = np.cumsum(~table.tp[t_index] & ~table.ignored[t_index])
    n_gt = max(int(table.gt_count.sum()), 1)
    return fp / table.n_images, tp / n_gt, table.score.copy()


def per_image_counts_at(
    table: MatchTable, threshold: float, iou: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """(true positives, false positives) per image among detections with score >= threshold."""
    t_index = table.at_iou(iou)
    above = table.score >= threshold
    tp = np.bincount(table.image_index[above & table.tp[t_index]], minlength=table.n_images)
    fp_mask = above & ~table.tp[t_index] & ~table.ignored[t_index]
    fp = np.bincount(table.image_index[fp_mask], minlength=table.n_images)
    return tp.astype(np.float64), fp.astype(np.float64)


def box_precision_recall_f1(
    table: MatchTable, weights: np.ndarray, threshold: float, iou: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B,) precision, recall and F1 of boxes at a confidence threshold (TP: IoU >= iou, greedy)."""
    w = _as_weights(weights, table.n_images)
    tp_i, fp_i = per_image_counts_at(table, threshold, iou)
    tp, fp, n_gt = w @ tp_i, w @ fp_i, w @ table.gt_count
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(n_gt > 0, tp / n_gt, np.nan)
        f1 = np.where(tp > 0, 2 * tp / (2 * tp + fp + (n_gt - tp)), np.where(n_gt > 0, 0.0, np.nan))
    return precision, recall, f1


def box_f1_curve(table: MatchTable, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, F1) with every detection's score as a candidate threshold, unweighted."""
    t_index = table.at_iou(iou)
    counted = ~table.ignored[t_index]
    tp = np.cumsum(table.tp[t_index])
    n_counted = np.cumsum(counted)
    n_gt = int(table.gt_count.sum())
    f1 = np.where(n_counted + n_gt > 0, 2 * tp / np.maximum(n_counted + n_gt, 1), 0.0)
    return table.score.copy(), f1


def image_scores(highest_confidence: np.ndarray) -> np.ndarray:
    """Image-level score: the highest box confidence, 0 for an image without boxes."""
    return np.nan_to_num(np.asarray(highest_confidence, dtype=np.float64), nan=0.0)


def sensitivity_specificity(
    scores: np.ndarray, positive: np.ndarray, weights: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(B,) image-level sensitivity and specificity: an image is called positive when score >= threshold."""
    positive = np.asarray(positive, dtype=bool)
    w = _as_weights(weights, positive.shape[0])
    called = np.asarray(scores) >= threshold
    n_pos, n_neg = w @ positive, w @ ~positive
    with np.errstate(divide="ignore", invalid="ignore"):
        sens = np.where(n_pos > 0, (w @ (positive & called)) / n_pos, np.nan)
        spec = np.where(n_neg > 0, (w @ (~positive & ~called)) / n_neg, np.nan)
    return sens, spec


def auroc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B,) area under the ROC curve (Mann-Whitney: P(score_pos > score_neg) + P(tie) / 2)."""
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    w = _as_weights(weights, positive.shape[0])
    pos, neg = scores[positive], scores[~positive]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    wp, wn = w[:, positive], w[:, ~positive]
    denominator = wp.sum(axis=1) * wn.sum(axis=1)
    numerator = np.einsum("bn,bn->b", wp @ pairs, wn)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, threshold), thresholds descending, starting at (0, 0)."""
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    thresholds = np.unique(scores)[::-1]
    called = scores[None, :] >= thresholds[:, None]
    n_pos, n_neg = max(int(positive.sum()), 1), max(int((~positive).sum()), 1)
    tpr = (called & positive).sum(axis=1) / n_pos
    fpr = (called & ~positive).sum(axis=1) / n_neg
    return (
        np.concatenate([[0.0], fpr]),
        np.concatenate([[0.0], tpr]),
        np.concatenate([[np.inf], thresholds]),
    )


def precision_recall_curve(
    table: MatchTable, iou: float = 0.5, max_dets: int | None = 100, max_points: int = 500
) -> dict[str, list]:
    """COCO-style PR curve of one table at one IoU: raw points and the 101-point interpolated envelope."""
    t_index = table.at_iou(iou)
    keep = np.ones(table.score.shape[0], bool) if max_dets is None else table.rank < max_dets
    tp = table.tp[t_index][keep]
    counted = ~table.ignored[t_index][keep]
    n_gt = max(int(table.gt_count.sum()), 1)
    tp_sum = np.cumsum(tp)[counted]
    n_sum = np.cumsum(counted)[counted]
    recall = tp_sum / n_gt
    precision = tp_sum / (n_sum + _EPS)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
    index = np.searchsorted(recall, RECALL_THRESHOLDS, side="left")
    interpolated = np.where(index < recall.size, np.concatenate([envelope, [0.0]])[index], 0.0)
    scores = table.score[keep][counted]
    if recall.size > max_points:  # thin the raw curve for eval.json; the envelope keeps its 101 points
        index = np.unique(np.linspace(0, recall.size - 1, max_points).astype(int))
        recall, precision, scores = recall[index], precision[index], scores[index]
    return {
        "recall": recall.tolist(),
        "precision": precision.tolist(),
        "score": scores.tolist(),
        "recall_points": RECALL_THRESHOLDS.tolist(),
        "interpolated_precision": interpolated.tolist(),
    }
