"""Decode, NMS and box mapping against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from bonefrac.infer.postprocess import decode, nms, postprocess, unletterbox_boxes
from bonefrac.infer.preprocess import letterbox_params


def test_decode_keeps_best_class_strictly_above_threshold():
    #           cx  cy  w   h   class0 class1
    head = np.array(
        [
            [10, 20, 4, 8, 0.9, 0.1],
            [30, 30, 10, 10, 0.2, 0.6],
            [50, 50, 2, 2, 0.25, 0.1],  # exactly at the threshold: dropped (ultralytics uses >)
        ],
        np.float32,
    ).T
    raw = decode(head, conf=0.25)
    np.testing.assert_allclose(raw.xyxy, [[8, 16, 12, 24], [25, 25, 35, 35]])
    np.testing.assert_allclose(raw.confidence, [0.9, 0.6])
    np.testing.assert_array_equal(raw.class_id, [0, 1])


def test_decode_rejects_wrong_shape():
    with pytest.raises(ValueError, match="4 \\+ classes"):
        decode(np.zeros((4, 10), np.float32), 0.1)
    with pytest.raises(ValueError, match="class rows"):
        decode(np.zeros((6, 10), np.float32), 0.1, num_classes=1)


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "iou", "kept"),
    [
        # IoU of the two boxes is 90/110 = 0.818 > 0.7: the weaker one goes
        ([[0, 0, 10, 10], [1, 0, 11, 10]], [0.9, 0.8], [0, 0], 0.7, [0]),
        # the same pair in different classes never suppress each other
        ([[0, 0, 10, 10], [1, 0, 11, 10]], [0.9, 0.8], [0, 1], 0.7, [0, 1]),
        # IoU exactly at the threshold (50/150 = 1/3) is kept: suppression needs IoU strictly above
        ([[0, 0, 10, 10], [5, 0, 15, 10]], [0.6, 0.9], [0, 0], 1 / 3, [1, 0]),
        # greedy chain: B is suppressed by A, so C (overlapping B only) survives
        ([[0, 0, 10, 10], [2, 0, 12, 10], [9, 0, 19, 10]], [0.9, 0.8, 0.7], [0, 0, 0], 0.5, [0, 2]),
        ([], [], [], 0.7, []),
    ],
)
def test_nms_hand_computed(boxes, scores, classes, iou, kept):
    result = nms(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(scores, np.float32),
        iou,
        np.asarray(classes, np.int64),
    )
    assert result.tolist() == kept


def test_nms_rejects_bad_iou():
    with pytest.raises(ValueError, match="iou"):
        nms(np.zeros((1, 4), np.float32), np.ones(1, np.float32), 1.5)


def test_unletterbox_boxes_hand_computed():
    # 480x640 into 320: gain 0.5, 320x240 placed 40 px down
    params = letterbox_params(480, 640, 320)
    assert (params.pad_left, params.pad_top) == (0, 40)
    out = unletterbox_boxes(np.array([[10, 50, 110, 150], [-20, 0, 400, 400]], np.float32), params)
    np.testing.assert_allclose(out, [[20, 20, 220, 220], [0, 0, 640, 480]])  # second one clipped


def test_postprocess_caps_detections_and_orders_by_confidence():
    n = 20
    head = np.zeros((5, n), np.float32)
    head[0] = np.arange(n) * 20 + 10  # far apart: NMS keeps all
    head[1], head[2], head[3] = 10, 8, 8
    head[4] = np.linspace(0.3, 0.9, n)
    params = letterbox_params(640, 640, 640)
    kept = postprocess(head, params, conf=0.25, iou=0.7, max_det=5)
    assert kept.confidence.shape == (5,)
    assert np.all(np.diff(kept.confidence) <= 0)
    assert kept.confidence[0] == pytest.approx(0.9)
