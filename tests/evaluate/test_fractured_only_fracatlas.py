"""On FracAtlas test, the fractured-only box metrics are those of the paper's 61-image test set.

The paper's "fractured only" split ships as data_fractured_only.yaml / fractured_only_test.txt beside
FracAtlas. These tests need the real data and skip without it (set BONEFRAC_FRACATLAS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefrac.data.yolo_format import label_path_for, load_dataset
from bonefrac.evaluate.evaluator import DetectionEvaluator
from bonefrac.evaluate.predictions import GroundTruth, ImagePrediction, parse_label_file, split_images
from bonefrac.evaluate.record import OperatingChoice
from bonefrac.evaluate.results import compute_results, fractured_only_paths
from bonefrac.records import Detections

pytestmark = pytest.mark.fracatlas
SIZE = 1000  # the labels are relative: any image size gives the same matches
NAMES = ("fractured",)


def _truth(image: Path) -> GroundTruth:
    label = parse_label_file(label_path_for(image), SIZE, SIZE, len(NAMES))
    return GroundTruth(image, SIZE, SIZE, label.xyxy, label.class_id)


def _prediction(truth: GroundTruth, rng: np.random.Generator) -> ImagePrediction:
    """Some truth boxes found (shifted a little), some missed, and a false alarm on every image."""
    found = truth.xyxy[rng.random(len(truth.xyxy)) < 0.7] + rng.normal(0, 8, (1, 4))
    alarm = rng.uniform(0, SIZE - 100, (1, 2))
    boxes = np.concatenate([found, np.concatenate([alarm, alarm + 100], axis=1)])
    confidence = np.concatenate([rng.uniform(0.3, 1.0, len(found)), rng.uniform(0.01, 0.8, 1)])
    detections = Detections(boxes, confidence, np.zeros(len(boxes), np.int64), NAMES)
    return ImagePrediction(truth.path, SIZE, SIZE, detections)


def _evaluate(pairs: list[tuple[ImagePrediction, GroundTruth]]):  # noqa: ANN202 - EvalMetrics
    evaluator = DetectionEvaluator(NAMES)
    for prediction, truth in pairs:
        evaluator.process(prediction, truth)
    prepared = evaluator.evaluate()
    choice = OperatingChoice(threshold=0.5, rule="fixed", split="test")
    return prepared, compute_results(prepared, choice, resamples=0, seed=0)


@pytest.fixture
def evaluated(fracatlas_yaml):
    rng = np.random.default_rng(0)
    images = split_images(load_dataset(fracatlas_yaml), "test")
    pairs = {}
    for image in images:
        truth = _truth(image)
        pairs[image.resolve()] = (_prediction(truth, rng), truth)
    return pairs, *_evaluate(list(pairs.values()))


def test_fractured_only_images_are_the_papers_test_set(fracatlas_yaml, evaluated):
    _, prepared, result = evaluated
    paper = load_dataset(fracatlas_yaml.parent / "data_fractured_only.yaml").splits["test"]
    listed = (fracatlas_yaml.parent / "fractured_only_test.txt").read_text().split()
    assert len(paper) == len(listed) == 61
    assert sorted(Path(p).resolve() for p in fractured_only_paths(prepared)) == sorted(
        p.resolve() for p in paper
    )
    assert result.box_fractured_only.images == 61 and result.counts.images > 61


def test_fractured_only_metrics_equal_an_evaluation_of_the_papers_test_set(fracatlas_yaml, evaluated):
    pairs, _, result = evaluated
    paper = load_dataset(fracatlas_yaml.parent / "data_fractured_only.yaml").splits["test"]
    _, alone = _evaluate([pairs[p.resolve()] for p in paper])
    for key in ("map50", "map50_95", "precision", "recall", "f1"):
        assert getattr(result.box_fractured_only, key).value == pytest.approx(getattr(alone.box, key).value)
    assert result.box_fractured_only.boxes == alone.counts.boxes
    assert result.box_fractured_only.precision.value > result.box.precision.value  # no background alarms
