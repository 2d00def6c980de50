from __future__ import annotations

import json

import numpy as np
import pytest

from bonefrac.card.record import ModelCard, OperatingPoint, read_model_card, write_model_card
from bonefrac.errors import EvaluationError, ModelError
from bonefrac.evaluate.evaluator import DetectionEvaluator
from bonefrac.evaluate.operating_point import (
    TEST_CHOICE_WARNING,
    check_test_choice,
    choose_operating_point,
    resolve_rule,
    threshold_for_max_f1,
    threshold_for_sensitivity,
    write_operating_point,
)
from bonefrac.evaluate.record import OperatingChoice

SCORES = np.array([0.9, 0.7, 0.4, 0.2, 0.75, 0.3])
POSITIVE = np.array([True, True, True, True, False, False])


@pytest.mark.parametrize(
    ("target", "expected", "reached"),
    [(0.25, 0.9, True), (0.5, 0.7, True), (0.75, 0.4, True), (0.9, 0.2, True), (1.0, 0.2, True)],
)
def test_threshold_for_sensitivity_is_the_highest_that_reaches_target(target, expected, reached):
    threshold, ok = threshold_for_sensitivity(SCORES, POSITIVE, target, floor=0.001)
    assert threshold == pytest.approx(expected) and ok is reached
    assert (SCORES[POSITIVE] >= threshold).mean() >= target


def test_threshold_for_sensitivity_reports_unreachable_target():
    scores = np.array([0.9, 0.0, 0.5])  # the second positive image has no box at all
    threshold, ok = threshold_for_sensitivity(scores, np.array([True, True, False]), 0.9, floor=0.001)
    assert (threshold, ok) == (0.001, False)


@pytest.mark.parametrize("target", [0.0, 1.5, -0.1])
def test_threshold_for_sensitivity_rejects_bad_target(target):
    with pytest.raises(EvaluationError, match="target sensitivity"):
        threshold_for_sensitivity(SCORES, POSITIVE, target, 0.001)


def test_threshold_for_sensitivity_needs_positive_images():
    with pytest.raises(EvaluationError, match="no image with a ground-truth box"):
        threshold_for_sensitivity(SCORES, np.zeros(6, bool), 0.9, 0.001)


@pytest.fixture
def prepared(make_image):
    a = make_image("a", [[10, 10, 30, 30]], [([10, 10, 30, 30], 0.9), ([60, 60, 80, 80], 0.8)])
    b = make_image("b", [[50, 50, 70, 76]], [([50, 50, 70, 70], 0.7)])
    c = make_image("c", [], [([20, 20, 40, 40], 0.75)])
    evaluator = DetectionEvaluator(("fractured",))
    for pred, truth in (a, b, c):
        evaluator.process(pred, truth)
    return evaluator.evaluate()


def test_threshold_for_max_f1_hand_computed(prepared):
    # F1 at 0.9: 2/3; at 0.8: 1/2; at 0.75: 2/5; at 0.7: 2/3 -> the higher threshold of the tie
    assert threshold_for_max_f1(prepared, 0.001) == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("rule", "kwargs", "threshold", "rule_text"),
    [
        ("target-sensitivity", {"target_sensitivity": 1.0}, 0.7, "target_sensitivity=1"),
        ("max-f1", {}, 0.9, "max_f1"),
        ("fixed", {"fixed_threshold": 0.33}, 0.33, "fixed"),
    ],
)
def test_choose_operating_point_rules(prepared, rule, kwargs, threshold, rule_text):
    choice = choose_operating_point(prepared, rule, split="val", conf_floor=0.001, **kwargs)
    assert choice.threshold == pytest.approx(threshold) and choice.rule == rule_text and choice.split == "val"


def test_choose_operating_point_from_card(prepared, tmp_path):
    card = tmp_path / "model_card.json"
    point = OperatingPoint(threshold=0.42, rule="target_sensitivity=0.9", split="val")
    write_model_card(
        ModelCard(name="m", version="1", class_names=["fractured"], input_size=64, operating_point=point),
        card,
    )
    choice = choose_operating_point(prepared, "card", split="test", conf_floor=0.001, card_path=card)
    assert (choice.threshold, choice.split) == (0.42, "val")


@pytest.mark.parametrize(
    ("rule", "kwargs", "message"),
    [
        ("fixed", {}, "needs --threshold"),
        ("card", {}, "does not exist"),
        ("best", {}, "unknown operating-point"),
    ],
)
def test_choose_operating_point_bad_rules(prepared, tmp_path, rule, kwargs, message):
    with pytest.raises(EvaluationError, match=message):
        choose_operating_point(
            prepared, rule, split="val", conf_floor=0.001, card_path=tmp_path / "model_card.json", **kwargs
        )


def _card(folder, rule):
    path = folder / "model_card.json"
    point = OperatingPoint(threshold=0.42, rule=rule, split="val")
    card = ModelCard(name="m", version="1", class_names=["fractured"], input_size=64, operating_point=point)
    return write_model_card(card, path)


@pytest.mark.parametrize(
    ("card_rule", "write_card", "expected"),
    [
        (None, False, "target-sensitivity"),  # no card beside the weights
        ("default", False, "target-sensitivity"),  # the export's placeholder is not a chosen point
        ("max_f1", False, "card"),
        ("max_f1", True, "target-sensitivity"),  # --write-card asks for a new choice
    ],
)
def test_auto_rule_uses_a_chosen_card_point(tmp_path, card_rule, write_card, expected):
    path = _card(tmp_path, card_rule) if card_rule else tmp_path / "model_card.json"
    assert resolve_rule("auto", path, write_card=write_card) == expected
    assert resolve_rule("max-f1", path, write_card=write_card) == "max-f1"


@pytest.mark.parametrize(
    ("requested", "rule", "two_tier", "named"),
    [
        ("max-f1", "max-f1", False, "--rule max-f1"),
        ("target-sensitivity", "target-sensitivity", False, "--rule target-sensitivity"),
        ("auto", "target-sensitivity", False, "no model_card.json beside the weights"),
        ("fixed", "fixed", True, "--two-tier (it chooses both tiers)"),
    ],
)
def test_choosing_on_the_test_split_is_refused(tmp_path, requested, rule, two_tier, named):
    card = tmp_path / "model_card.json"
    options = dict(split="test", two_tier=two_tier, card_path=card)
    with pytest.raises(EvaluationError) as refused:
        check_test_choice(requested, rule, force=False, **options)
    message = str(refused.value)
    assert named in message and "optimistic" in message
    for accepted in ("--split val --write-card", "--rule card", "--rule fixed --threshold T", "--force-test"):
        assert accepted in message
    assert check_test_choice(requested, rule, force=True, **options) == TEST_CHOICE_WARNING


@pytest.mark.parametrize(
    ("rule", "split", "two_tier"),
    [
        ("max-f1", "val", True),
        ("target-sensitivity", "train", False),
        ("card", "test", True),  # measures the card's tiers
        ("fixed", "test", False),
    ],
)
def test_measuring_or_choosing_off_test_is_accepted(tmp_path, rule, split, two_tier):
    card = tmp_path / "model_card.json"
    assert check_test_choice(rule, rule, split=split, two_tier=two_tier, force=False, card_path=card) is None


def _write(weights, **kwargs):
    defaults = dict(
        sensitivity=0.9,
        specificity=0.8,
        class_names=("fractured",),
        input_size=64,
        summary={"split": "val", "map50": 0.5},
    )
    defaults.update(kwargs)
    return write_operating_point(
        weights, OperatingChoice(threshold=0.31, rule="target_sensitivity=0.9", split="val"), **defaults
    )


def test_write_operating_point_creates_a_minimal_card(tmp_path):
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"weights")
    card = read_model_card(_write(weights))
    assert card.operating_point.threshold == 0.31 and card.operating_point.split == "val"
    assert card.operating_point.sensitivity == 0.9 and card.class_names == ["fractured"]
    assert card.metrics["evaluation"]["map50"] == 0.5 and card.weights_sha256


def test_write_operating_point_updates_an_existing_card(tmp_path):
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"onnx")
    card_path = tmp_path / "model_card.json"
    write_model_card(
        ModelCard(
            name="export",
            version="7",
            class_names=["fractured"],
            input_size=640,
            metrics={"parity": 1.0},
            limitations=["x"],
        ),
        card_path,
    )
    card = read_model_card(_write(weights))
    assert (card.name, card.version, card.limitations) == ("export", "7", ["x"])
    assert card.metrics["parity"] == 1.0 and card.operating_point.threshold == 0.31
    assert json.loads(card_path.read_text())["operating_point"]["rule"] == "target_sensitivity=0.9"


def test_write_operating_point_refuses_a_card_of_other_weights(tmp_path):
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"new weights")
    write_model_card(
        ModelCard(name="m", version="1", class_names=["fractured"], input_size=64, weights_sha256="0" * 64),
        tmp_path / "model_card.json",
    )
    with pytest.raises(ModelError, match="describes another weights file"):
        _write(weights)
