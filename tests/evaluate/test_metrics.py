"""Hand-computed tiny cases for every metric: three images, known boxes, numbers worked out on paper.

Images (100 x 100, one class):
  A: ground truth [10,10,30,30]; detections: exact box 0.9 (TP at every IoU), [60,60,80,80] 0.8 (FP)
  B: ground truth [50,50,70,76]; detection [50,50,70,70] 0.7 (IoU 400/520 = 0.769: TP for IoU <= 0.75)
  C: background; detection [20,20,40,40] 0.75 (FP)
Score order: TP 0.9, FP 0.8, FP 0.75, TP 0.7 (at IoU <= 0.75; an FP above).
"""

from __future__ import annotations

import numpy as np
import pytest

from bonefrac.evaluate.evaluator import DetectionEvaluator, EvalSettings
from bonefrac.evaluate.matching import build_match_table, match_image
from bonefrac.evaluate.metrics import (
    auroc,
    average_precision,
    box_precision_recall_f1,
    froc_sensitivities,
    roc_curve,
    sensitivity_specificity,
)

ONE = np.ones((1, 3))


@pytest.fixture
def case(make_image):
    a = make_image("a", [[10, 10, 30, 30]], [([10, 10, 30, 30], 0.9), ([60, 60, 80, 80], 0.8)])
    b = make_image("b", [[50, 50, 70, 76]], [([50, 50, 70, 70], 0.7)])
    c = make_image("c", [], [([20, 20, 40, 40], 0.75)])
    preds, truths = zip(a, b, c, strict=True)
    return list(preds), list(truths)


@pytest.fixture
def prepared(case):
    evaluator = DetectionEvaluator(("fractured",))
    for pred, truth in zip(*case, strict=True):
        evaluator.process(pred, truth)
    return evaluator.evaluate()


def test_average_precision_hand_computed(case):
    table = build_match_table(*case, 0)
    ap = average_precision(table, ONE)[0]
    # IoU 0.5..0.75: precision 1 up to recall 0.5 (51 points), then 2/4 up to recall 1 (50 points)
    assert ap[0] == pytest.approx((51 + 50 * 0.5) / 101)
    assert ap[:6] == pytest.approx([76 / 101] * 6)
    # IoU 0.8..0.95: only A's box is found: precision 1 up to recall 0.5, nothing beyond
    assert ap[6:] == pytest.approx([51 / 101] * 4)
    assert ap.mean() == pytest.approx((6 * 76 + 4 * 51) / 1010)


def test_metrics_table_hand_computed(prepared):
    point = {k: float(v[0]) for k, v in prepared.metrics(ONE, 0.5).items()}
    assert point["box.map50"] == pytest.approx(76 / 101)
    assert point["box.map50_95"] == pytest.approx(0.6534653)
    # at 0.5: TP A and B, FP on A and C
    assert point["box.precision"] == pytest.approx(0.5)
    assert point["box.recall"] == pytest.approx(1.0)
    assert point["box.f1"] == pytest.approx(2 / 3)
    assert point["image.auroc"] == pytest.approx(0.5)  # A (0.9) > C (0.75) > B (0.7)
    assert point["background.fp_boxes_per_image"] == pytest.approx(1.0)
    assert point["background.image_fp_rate"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("threshold", "sensitivity", "specificity"),
    [(0.5, 1.0, 0.0), (0.72, 0.5, 0.0), (0.8, 0.5, 1.0), (0.95, 0.0, 1.0)],
)
def test_sensitivity_specificity_hand_computed(prepared, threshold, sensitivity, specificity):
    sens, spec = sensitivity_specificity(prepared.scores, prepared.positive, ONE, threshold)
    assert (sens[0], spec[0]) == pytest.approx((sensitivity, specificity))


def test_froc_hand_computed(case):
    table = build_match_table(*case, None, iou_thresholds=np.array([0.5]))
    # TP at 0 FP (sens 0.5); second TP after 2 FP over 3 images = 0.667 FP/image (sens 1)
    sens = froc_sensitivities(table, ONE)[0]
    assert sens == pytest.approx([0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0])
    assert sens.mean() == pytest.approx(5.5 / 7)


def test_box_precision_recall_at_high_threshold(case):
    table = build_match_table(*case, None, iou_thresholds=np.array([0.5]))
    precision, recall, f1 = box_precision_recall_f1(table, ONE, 0.85)
    assert (precision[0], recall[0], f1[0]) == pytest.approx((1.0, 0.5, 2 / 3))


def test_auroc_and_roc_curve_small_cases():
    scores = np.array([0.9, 0.7, 0.75, 0.1])
    positive = np.array([True, True, False, False])
    assert auroc(scores, positive, np.ones((1, 4)))[0] == pytest.approx(0.75)
    ties = auroc(np.array([0.5, 0.5]), np.array([True, False]), np.ones((1, 2)))[0]
    assert ties == pytest.approx(0.5)
    fpr, tpr, thresholds = roc_curve(scores, positive)
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert np.isinf(thresholds[0]) and thresholds[1:].tolist() == [0.9, 0.75, 0.7, 0.1]


def test_undefined_metrics_are_nan():
    scores, positive = np.array([0.2, 0.3]), np.array([False, False])
    assert np.isnan(auroc(scores, positive, np.ones((1, 2)))[0])
    sens, spec = sensitivity_specificity(scores, positive, np.ones((1, 2)), 0.25)
    assert np.isnan(sens[0]) and spec[0] == pytest.approx(0.5)


def test_match_image_prefers_highest_iou_and_each_truth_once():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 12]], dtype=float)
    dets = np.array([[0, 0, 10, 12], [0, 0, 10, 12]], dtype=float)
    tp, ignored, matched = match_image(dets, gt, np.zeros(2, bool), np.zeros(2, bool), np.array([0.5]))
    # first detection takes the exact box (IoU 1), the second the remaining one (IoU 100/120)
    assert tp.tolist() == [[True, True]] and matched.tolist() == [[True, True]]
    assert not ignored.any()


def test_match_image_ignored_truth_neither_counts():
    gt = np.array([[0, 0, 10, 10]], dtype=float)
    dets = np.array([[0, 0, 10, 10], [50, 50, 52, 52]], dtype=float)
    tp, ignored, _ = match_image(dets, gt, np.array([True]), np.array([False, True]), np.array([0.5]))
    assert tp.tolist() == [[False, False]] and ignored.tolist() == [[True, True]]


def test_size_breakdown_recall(make_image):
    # 200 x 200 image: a 5 x 5 box (0.06 %, small) found, a 60 x 60 box (9 %, large) missed
    pred, truth = make_image(
        "s", [[10, 10, 15, 15], [100, 100, 160, 160]], [([10, 10, 15, 15], 0.9)], size=(200, 200)
    )
    evaluator = DetectionEvaluator(("fractured",), EvalSettings())
    evaluator.process(pred, truth)
    prepared = evaluator.evaluate()
    point = {k: float(v[0]) for k, v in prepared.metrics(np.ones((1, 1)), 0.5).items()}
    assert prepared.size_box_counts == {"small": 1, "medium": 0, "large": 1}
    assert point["size.small.recall"] == 1.0 and point["size.large.recall"] == 0.0
    assert point["size.small.ap50"] == pytest.approx(1.0) and point["size.large.ap50"] == 0.0
    assert np.isnan(point["size.medium.ap50"])


def test_weights_equal_duplicated_images(random_case):
    """A bootstrap weight of 2 on an image must give what evaluating the image twice gives."""
    preds, truths = random_case(11, n_images=8)
    counts = np.array([2, 0, 1, 3, 1, 0, 1, 2])
    dup_preds = [p for p, c in zip(preds, counts, strict=True) for _ in range(c)]
    dup_truths = [t for t, c in zip(truths, counts, strict=True) for _ in range(c)]
    for cls in (0, 1):
        weighted = average_precision(build_match_table(preds, truths, cls), counts[None, :])[0]
        expanded = average_precision(
            build_match_table(dup_preds, dup_truths, cls), np.ones((1, counts.sum()))
        )[0]
        np.testing.assert_allclose(weighted, expanded, atol=1e-12, equal_nan=True)
    pooled = build_match_table(preds, truths, None, iou_thresholds=np.array([0.5]))
    dup_pooled = build_match_table(dup_preds, dup_truths, None, iou_thresholds=np.array([0.5]))
    np.testing.assert_allclose(
        froc_sensitivities(pooled, counts[None, :]),
        froc_sensitivities(dup_pooled, np.ones((1, counts.sum()))),
    )
