"""A real EvalReport without a model: hand-made detections on hand-made ground truth, evaluated for real."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from bonefrac.card.record import OperatingPoints
from bonefrac.evaluate.evaluator import DetectionEvaluator
from bonefrac.evaluate.predictions import GroundTruth, ImagePrediction
from bonefrac.evaluate.record import DataInfo, EvalReport, ModelInfo, OperatingChoice
from bonefrac.evaluate.results import compute_results
from bonefrac.evaluate.two_tier import measure_two_tier
from bonefrac.records import Detections

NAMES = ("fractured",)


def _image(i: int, rng: np.random.Generator) -> tuple[ImagePrediction, GroundTruth]:
    """Every third image is a background; fractures are found 70 % of the time; one false alarm each."""
    path = Path(f"/data/images/test/img{i:03d}.png")
    gt = np.empty((0, 4)) if i % 3 == 0 else np.array([[20.0, 20.0, 60.0, 70.0]]) + rng.uniform(0, 100)
    found = gt[rng.random(len(gt)) < 0.7] + rng.normal(0, 2, (1, 4))
    alarm = rng.uniform(0, 150, 2)
    boxes = np.concatenate([found, [[*alarm, *(alarm + 30)]]])
    confidence = np.concatenate([rng.uniform(0.4, 1.0, len(found)), rng.uniform(0.05, 0.7, 1)])
    prediction = ImagePrediction(
        path, 200, 200, Detections(boxes, confidence, np.zeros(len(boxes), int), NAMES)
    )
    return prediction, GroundTruth(path, 200, 200, gt, np.zeros(len(gt), np.int64))


def _build_report(
    seed: int = 0,
    n_images: int = 30,
    sha256: str = "ab" * 32,
    threshold: float = 0.4,
    tiers: OperatingPoints | None = None,
) -> EvalReport:
    """A test-split report; with `tiers`, also measured at those two operating points (a classifier whose
    probability is the truth blurred by noise when the tiers fuse one)."""
    rng = np.random.default_rng(seed)
    evaluator = DetectionEvaluator(NAMES)
    for i in range(n_images):
        evaluator.process(*_image(i, rng))
    prepared = evaluator.evaluate()
    choice = OperatingChoice(threshold=threshold, rule="card", split="test")
    measured = compute_results(prepared, choice, resamples=40, seed=seed)
    if tiers is not None:
        classifier = None
        if tiers.image_score == "fused":
            classifier = np.clip(prepared.positive * 0.5 + rng.uniform(0.1, 0.5, prepared.n_images), 0, 1)
        described = {"file": "/m/classifier.onnx", "sha256": "ef" * 32} if classifier is not None else None
        two_tier = measure_two_tier(prepared, classifier, tiers, 40, seed, described)
        measured = measured.model_copy(update={"two_tier": two_tier})
    return EvalReport(
        **dict(measured),
        model=ModelInfo(
            weights="/m/model.onnx", kind="onnx", sha256=sha256, imgsz=320, class_names=list(NAMES)
        ),
        data=DataInfo(
            yaml="/d/data.yaml", split="test", fingerprint="cd" * 32, conf_floor=0.001, skipped_images=[]
        ),
        produced_by={"bonefrac": "test"},
        seconds=1.0,
    )


@pytest.fixture
def build_report():
    """build_report(seed=0, n_images=30, sha256=..., threshold=0.4, tiers=None) -> a test-split EvalReport."""
    return _build_report


@pytest.fixture
def report() -> EvalReport:
    """A test-split evaluation at threshold 0.4 (30 images, 20 with a fracture)."""
    return _build_report()


def _run_folder(path: Path) -> Path:
    """A run folder as `bonefrac train` leaves it (the files the summary reads)."""
    path.mkdir(parents=True)
    config = {
        "experiment": "default_model_cpu",
        "model": "yolo11n.yaml",
        "imgsz": 320,
        "batch": 16,
        "budget_hours": 1.5,
        "device": "cpu",
        "background_ratio": 0.1,
        "subset": {"drop_duplicates_of_train": True},
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {"device": "cpu", "cpu_count": 2, "torch_threads": 2, "git_sha": "0123456789abcdef"}
    (path / "environment.json").write_text(json.dumps(env), encoding="utf-8")
    (path / "dataset.json").write_text(json.dumps({"train_positives": 574, "train_backgrounds": 268}))
    header = (
        "epoch,time,train/box_loss,metrics/precision(B),metrics/recall(B),metrics/mAP50(B),"
        "metrics/mAP50-95(B)"
    )
    rows = ["1,80.0,5.1,0.1,0.1,0.05,0.01", "2,160.0,4.0,0.3,0.2,0.20,0.07", "3,3600.0,3.9,0.2,0.2,0.18,0.06"]
    (path / "results.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def run_folder():
    """run_folder(path) -> a run folder as `bonefrac train` leaves it (what the training summary reads)."""
    return _run_folder
