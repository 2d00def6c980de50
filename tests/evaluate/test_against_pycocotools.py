"""The project's AP must agree with pycocotools' COCOeval on the same predictions."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from bonefrac.evaluate.matching import build_match_table
from bonefrac.evaluate.metrics import average_precision

pycocotools = pytest.importorskip("pycocotools")


def _coco_eval(preds, truths, n_classes, area_rng=None):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results = [], [], []
    for image_id, (pred, truth) in enumerate(zip(preds, truths, strict=True), start=1):
        images.append({"id": image_id, "width": truth.width, "height": truth.height})
        for box, cls in zip(truth.xyxy, truth.class_id, strict=True):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "bbox": [float(box[0]), float(box[1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        det = pred.detections
        for box, conf, cls in zip(det.xyxy, det.confidence, det.class_id, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append(
                {
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(conf),
                }
            )
    gt = COCO()
    gt.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c + 1, "name": f"c{c}"} for c in range(n_classes)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results)
        evaluator = COCOeval(gt, dt, "bbox")
        if area_rng is not None:
            evaluator.params.areaRng = [area_rng] * 4
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, :, 0, 2]  # (T, R, K) at all areas, maxDets=100
    per_class = []
    for k in range(n_classes):
        p = precision[:, :, k]
        per_class.append(np.where((p > -1).all(axis=1), p.mean(axis=1), np.nan))
    return np.array(per_class)  # (K, T)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_average_precision_matches_pycocotools(seed, random_case):
    preds, truths = random_case(seed)
    expected = _coco_eval(preds, truths, n_classes=2)
    for cls in range(2):
        table = build_match_table(preds, truths, cls)
        ours = average_precision(table, np.ones((1, len(preds))))[0]
        np.testing.assert_allclose(ours, expected[cls], atol=1e-4, equal_nan=True)
        ap50, ap50_95 = ours[0], ours.mean()
        assert abs(ap50 - expected[cls][0]) < 1e-4
        assert abs(ap50_95 - expected[cls].mean()) < 1e-4


@pytest.mark.parametrize(("seed", "area_range"), [(5, (0.0, 0.01)), (6, (0.01, 0.05)), (7, (0.05, 1.0))])
def test_average_precision_in_area_range_matches_pycocotools(seed, area_range, random_case):
    preds, truths = random_case(seed, n_images=30)
    image_area = truths[0].width * truths[0].height
    expected = _coco_eval(preds, truths, 2, [area_range[0] * image_area, area_range[1] * image_area])
    for cls in range(2):
        table = build_match_table(preds, truths, cls, area_range=area_range)
        ours = average_precision(table, np.ones((1, len(preds))))[0]
        np.testing.assert_allclose(ours, expected[cls], atol=1e-4, equal_nan=True)
