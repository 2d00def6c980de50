"""Fixtures and builders for evaluate tests: hand-made predictions and ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefrac.evaluate.evaluator import DetectionEvaluator, PreparedEvaluation
from bonefrac.evaluate.predictions import GroundTruth, ImagePrediction
from bonefrac.evaluate.record import DataInfo, EvalReport, ModelInfo, OperatingChoice
from bonefrac.evaluate.results import compute_results
from bonefrac.records import Detections


def _make_image(
    name: str,
    gt: list[list[float]],
    dets: list[tuple[list[float], float]],
    *,
    size: tuple[int, int] = (100, 100),
    gt_classes: list[int] | None = None,
    det_classes: list[int] | None = None,
    class_names: tuple[str, ...] = ("fractured",),
) -> tuple[ImagePrediction, GroundTruth]:
    """One image: ground-truth boxes and (box, confidence) detections, single class unless given."""
    width, height = size
    path = Path(f"/data/images/test/{name}.png")
    xyxy = np.asarray([d[0] for d in dets], dtype=np.float32).reshape(-1, 4)
    conf = np.asarray([d[1] for d in dets], dtype=np.float32)
    det_cls = np.asarray(det_classes if det_classes is not None else [0] * len(dets), dtype=np.int64)
    prediction = ImagePrediction(path, width, height, Detections(xyxy, conf, det_cls, class_names))
    gt_cls = np.asarray(gt_classes if gt_classes is not None else [0] * len(gt), dtype=np.int64)
    truth = GroundTruth(path, width, height, np.asarray(gt, dtype=np.float64).reshape(-1, 4), gt_cls)
    return prediction, truth


def _random_case(
    seed: int, n_images: int = 25, n_classes: int = 2, size: tuple[int, int] = (200, 160)
) -> tuple[list[ImagePrediction], list[GroundTruth]]:
    """Random ground truth (some backgrounds) and noisy detections around it plus random false alarms."""
    rng = np.random.default_rng(seed)
    width, height = size
    names = tuple(f"c{i}" for i in range(n_classes))
    preds, truths = [], []
    for i in range(n_images):
        n_gt = int(rng.integers(0, 4)) if rng.random() > 0.25 else 0
        wh = rng.uniform(4, 70, size=(n_gt, 2))
        xy = rng.uniform(0, 1, size=(n_gt, 2)) * (np.array([width, height]) - wh)
        gt = np.concatenate([xy, xy + wh], axis=1)
        gt_cls = rng.integers(0, n_classes, n_gt)
        jitter = rng.normal(0, 4, size=gt.shape)
        found = rng.random(n_gt) < 0.8
        det_boxes = [gt[found] + jitter[found]]
        det_cls = [
            np.where(rng.random(found.sum()) < 0.9, gt_cls[found], rng.integers(0, n_classes, found.sum()))
        ]
        n_fp = int(rng.integers(0, 6))
        fwh = rng.uniform(4, 70, size=(n_fp, 2))
        fxy = rng.uniform(0, 1, size=(n_fp, 2)) * (np.array([width, height]) - fwh)
        det_boxes.append(np.concatenate([fxy, fxy + fwh], axis=1))
        det_cls.append(rng.integers(0, n_classes, n_fp))
        boxes = np.concatenate(det_boxes).reshape(-1, 4)
        boxes = np.clip(boxes, 0, [width, height, width, height])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.5)
        conf = rng.uniform(0.001, 1.0, len(boxes))
        path = Path(f"/data/images/test/img{i:03d}.png")
        preds.append(
            ImagePrediction(path, width, height, Detections(boxes, conf, np.concatenate(det_cls), names))
        )
        truths.append(GroundTruth(path, width, height, gt, gt_cls.astype(np.int64)))
    return preds, truths


@pytest.fixture
def make_image():
    """Builder of one hand-made image: make_image(name, gt_boxes, [(box, conf), ...])."""
    return _make_image


@pytest.fixture
def random_case():
    """Builder of a random multi-class case: random_case(seed, n_images=25) -> (predictions, truths)."""
    return _random_case


def _prepare(preds: list[ImagePrediction], truths: list[GroundTruth]) -> PreparedEvaluation:
    evaluator = DetectionEvaluator(preds[0].detections.class_names)
    for p, t in zip(preds, truths, strict=True):
        evaluator.process(p, t)
    return evaluator.evaluate()


def _eval_report(
    prepared: PreparedEvaluation, threshold: float = 0.5, resamples: int = 20, split: str = "test"
) -> EvalReport:
    """A complete EvalReport of a prepared evaluation, with made-up provenance (no files on disk)."""
    choice = OperatingChoice(threshold=threshold, rule="fixed", split=split)
    return EvalReport(
        **dict(compute_results(prepared, choice, resamples, seed=0)),
        model=ModelInfo(
            weights="/m/best.pt",
            kind="pt",
            sha256="ab" * 32,
            imgsz=64,
            class_names=list(prepared.class_names),
        ),
        data=DataInfo(
            yaml="/d/data.yaml", split=split, fingerprint="cd" * 32, conf_floor=0.001, skipped_images=[]
        ),
        produced_by={"bonefrac": "test"},
        seconds=0.5,
    )


@pytest.fixture
def prepare():
    """prepare(predictions, truths) -> PreparedEvaluation."""
    return _prepare


@pytest.fixture
def eval_report():
    """eval_report(prepared, threshold=0.5, resamples=20, split="test") -> a complete EvalReport."""
    return _eval_report
