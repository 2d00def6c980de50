"""Fusion weight and the two operating points: chosen on one split, measured on another, carded."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bonefrac.card.record import read_model_card
from bonefrac.cli import app
from bonefrac.evaluate import metrics as m
from bonefrac.evaluate.eval_file import read_eval_report
from bonefrac.evaluate.two_tier import (
    choose_classifier_weight,
    choose_operating_points,
    classifier_probabilities,
    threshold_for_specificity,
)

runner = CliRunner()


def _rates(scores: np.ndarray, positive: np.ndarray, threshold: float) -> tuple[float, float]:
    sens, spec = m.sensitivity_specificity(scores, positive, np.ones((1, len(scores))), threshold)
    return float(sens[0]), float(spec[0])


def test_threshold_for_specificity_is_the_lowest_that_reaches_it() -> None:
    negatives = np.linspace(0.0, 0.9, 10)  # ten normals
    scores = np.concatenate([negatives, [0.95, 0.5]])
    positive = np.array([False] * 10 + [True, True])
    threshold, reached = threshold_for_specificity(scores, positive, 0.9)
    assert reached
    assert _rates(scores, positive, threshold)[1] >= 0.9
    assert _rates(scores, positive, np.nextafter(threshold, -1))[1] < 0.9 or threshold <= 0.8


def test_threshold_for_specificity_one_calls_no_normal() -> None:
    scores = np.array([0.2, 0.4, 0.9])
    positive = np.array([False, False, True])
    threshold, _ = threshold_for_specificity(scores, positive, 1.0)
    assert 0.4 < threshold <= 0.9
    assert _rates(scores, positive, threshold) == (1.0, 1.0)


def test_classifier_weight_prefers_the_informative_score() -> None:
    rng = np.random.default_rng(0)
    positive = rng.random(200) < 0.3
    classifier = np.clip(positive * 0.5 + rng.normal(0.25, 0.15, 200), 0, 1)  # informative
    detector = rng.random(200) * 0.3  # noise
    weight, by_weight = choose_classifier_weight(detector, classifier, positive)
    assert weight >= 0.5
    assert by_weight[weight] == max(by_weight.values()) > by_weight[0.0] + 0.2
    swapped, by_swapped = choose_classifier_weight(classifier, detector, positive)
    assert swapped <= 0.5 and by_swapped[swapped] == max(by_swapped.values())


def test_operating_points_reach_their_targets_on_the_choosing_split() -> None:
    rng = np.random.default_rng(1)
    positive = rng.random(300) < 0.25
    detector = np.clip(positive * 0.2 + rng.normal(0.1, 0.08, 300), 0, 1)
    classifier = np.clip(positive * 0.4 + rng.normal(0.3, 0.15, 300), 0, 1)
    points = choose_operating_points(detector, classifier, positive, split="val", conf_floor=0.001)
    assert points.image_score == "fused" and points.split == "val"
    score = points.classifier_weight * classifier + (1 - points.classifier_weight) * detector
    sens_tier, spec_tier = points.high_sensitivity, points.high_specificity
    assert _rates(score, positive, sens_tier.image_threshold)[0] >= 0.9
    assert _rates(score, positive, spec_tier.image_threshold)[1] >= 0.9
    assert sens_tier.image_threshold <= spec_tier.image_threshold
    assert _rates(detector, positive, sens_tier.box_threshold)[0] >= 0.9
    assert _rates(detector, positive, spec_tier.box_threshold)[1] >= 0.9
    assert set(points.auroc) == {"detector", "classifier", "fused"}
    assert points.auroc["fused"] >= max(points.auroc["detector"], points.auroc["classifier"]) - 1e-9


def test_without_a_classifier_the_detector_scores_the_image() -> None:
    positive = np.array([True, False, True, False, False])
    detector = np.array([0.9, 0.1, 0.6, 0.3, 0.05])
    points = choose_operating_points(detector, None, positive, split="val", conf_floor=0.001)
    assert points.image_score == "detector" and points.classifier_weight == 0.0
    sens_tier, spec_tier = points.high_sensitivity, points.high_specificity
    assert sens_tier.image_threshold == sens_tier.box_threshold and spec_tier.image_threshold == 0.6
    # this score separates the classes: both tiers meet both targets, the sensitive one is the lower
    assert 0.3 < sens_tier.image_threshold < spec_tier.image_threshold
    assert _rates(detector, positive, sens_tier.image_threshold) == (1.0, 1.0)


@pytest.mark.slow
def test_evaluate_chooses_tiers_on_val_and_measures_them_on_test(
    tiny_onnx_model: Path, tiny_classifier_onnx: Path, synthetic_dataset: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    model = folder / "model.onnx"
    shutil.copyfile(tiny_onnx_model, model)
    for name in ("classifier.onnx", "classifier_card.json"):
        shutil.copyfile(tiny_classifier_onnx.parent / name, folder / name)
    common = ["evaluate", "--weights", str(model), "--data", str(synthetic_dataset), "--bootstrap", "20"]
    choose = [*common, "--split", "val", "--two-tier", "--classifier", str(folder / "classifier.onnx")]
    unwritten = runner.invoke(app, choose)
    assert unwritten.exit_code == 0, unwritten.output
    assert "not written into the card; pass --write-card" in " ".join(unwritten.output.split())
    assert not (folder / "model_card.json").exists()
    recorded = read_eval_report(folder / "eval-val" / "eval.json").two_tier
    assert recorded is not None and recorded.chosen_on == "val"

    chosen = runner.invoke(app, [*choose, "--write-card"])
    assert chosen.exit_code == 0, chosen.output
    assert "two operating points" in chosen.output
    card = read_model_card(folder / "model_card.json")
    assert card.operating_points is not None and card.classifier is not None
    assert card.operating_points.split == "val" and card.classifier.file == "classifier.onnx"
    val = read_eval_report(folder / "eval-val" / "eval.json").two_tier
    assert val is not None and val.auroc.classifier is not None
    assert val.high_sensitivity.sensitivity.value >= 0.9 or not val.high_sensitivity.reached
    assert (folder / "eval-val" / "classifier_scores.json").is_file()

    card_bytes = (folder / "model_card.json").read_bytes()
    measured = runner.invoke(app, [*common, "--split", "test"])  # auto: the card's tiers are measured
    assert measured.exit_code == 0, measured.output
    assert (folder / "model_card.json").read_bytes() == card_bytes
    test = read_eval_report(folder / "eval-test" / "eval.json").two_tier
    assert test is not None and test.chosen_on == "val"
    assert test.high_specificity.image_threshold == card.operating_points.high_specificity.image_threshold
    assert test.classifier is not None and test.classifier["sha256"] == card.classifier.sha256
    confusion = test.high_sensitivity.confusion
    assert confusion.tp + confusion.fn + confusion.fp + confusion.tn == 6


@pytest.mark.slow
def test_evaluate_refuses_a_classifier_that_is_not_beside_the_model(
    tiny_onnx_model: Path, tiny_classifier_onnx: Path, synthetic_dataset: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model" / "model.onnx"
    model.parent.mkdir()
    shutil.copyfile(tiny_onnx_model, model)
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--weights",
            str(model),
            "--data",
            str(synthetic_dataset),
            "--split",
            "val",
            "--bootstrap",
            "0",
            "--two-tier",
            "--write-card",
            "--classifier",
            str(tiny_classifier_onnx),
        ],
    )
    assert result.exit_code != 0
    assert "must sit beside" in str(result.exception) + result.output


def test_classifier_scores_a_truncated_jpeg_as_the_detector_evaluation_reads_it(
    tiny_classifier_onnx: Path, tmp_path: Path
) -> None:
    """A JPEG cut before its end marker (FracAtlas has some) is scored, its missing rows grey: not fatal."""
    import cv2

    from bonefrac.imaging.io import load_image
    from bonefrac.infer.classifier import FractureClassifier

    rng = np.random.default_rng(0)
    pixels = cv2.GaussianBlur(rng.integers(0, 255, (96, 128), dtype=np.uint8), (0, 0), 3)
    whole = tmp_path / "whole.jpg"
    cv2.imwrite(str(whole), pixels)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])

    scores = classifier_probabilities(tiny_classifier_onnx, [whole, cut], tmp_path)
    expected = FractureClassifier(tiny_classifier_onnx).probability(load_image(cut, allow_truncated=True))
    assert scores.shape == (2,) and scores[1] == pytest.approx(expected, abs=1e-6)
