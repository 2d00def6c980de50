"""bonefrac.ui.thresholds: starts exactly at the operating point, offers the named points, has a floor."""

import json
from pathlib import Path

from bonefrac.card.record import ModelCard, OperatingPoint, OperatingPoints, Tier
from bonefrac.ui import thresholds

SHIPPED_CARD = Path(__file__).resolve().parents[2] / "deploy" / "model" / "model_card.json"


def _tiered(sens_box=0.1065, spec_box=0.2231, single=0.31):
    return ModelCard(
        name="m",
        version="1",
        class_names=["fractured"],
        input_size=640,
        operating_point=OperatingPoint(threshold=single, rule="max_f1", split="val"),
        operating_points=OperatingPoints(
            image_score="fused",
            classifier_weight=0.5,
            split="val",
            high_sensitivity=Tier(image_threshold=0.2, box_threshold=sens_box, target="sensitivity>=0.9"),
            high_specificity=Tier(image_threshold=0.6, box_threshold=spec_box, target="specificity>=0.9"),
        ),
    )


def test_the_control_starts_exactly_at_the_operating_point_and_offers_it():
    card = _tiered()
    assert thresholds.start_value(card) == 0.1065  # not 0.11
    values = thresholds.options(card)
    assert 0.1065 in values and 0.11 in values and 0.1 in values
    assert list(values) == sorted(set(values))
    # moving one step away and back lands on the same number
    index = values.index(0.1065)
    assert values[index + 1] == 0.11 and values[index + 1 - 1] == 0.1065
    assert thresholds.request_threshold(values[index], card) is None  # the model's own answer
    assert thresholds.request_threshold(values[index + 1], card) == 0.11


def test_named_points_come_from_the_card():
    named = thresholds.named_points(_tiered())
    assert [(p.key, p.value) for p in named] == [
        ("operating_points", 0.1065),
        ("high_specificity", 0.2231),
        ("single_threshold", 0.31),
    ]
    assert thresholds.option_label(0.2231, _tiered()) == "0.2231 (high-specificity boxes)"
    assert thresholds.option_label(0.5, _tiered()) == "0.50"


def test_the_floor_is_never_zero_but_keeps_a_lower_operating_point():
    assert thresholds.floor_value(_tiered()) == thresholds.FLOOR == 0.05
    low = _tiered(sens_box=0.01876)
    assert thresholds.floor_value(low) == 0.01876
    assert thresholds.options(low)[0] == 0.01876 and thresholds.options(low)[1] == 0.02
    assert min(thresholds.options(_tiered())) == 0.05 and max(thresholds.options(_tiered())) == 1.0


def test_a_card_with_one_operating_point():
    card = ModelCard(
        name="m",
        version="1",
        class_names=["fractured"],
        input_size=64,
        operating_point=OperatingPoint(threshold=0.3, rule="max_f1"),
    )
    named = thresholds.named_points(card)
    assert [(p.key, p.value, p.name) for p in named] == [
        ("operating_points", 0.3, "the model's operating point (max_f1)")
    ]
    assert thresholds.options(card)[0] == 0.05
    meaning = thresholds.meaning(0.3, card)
    assert meaning.startswith("0.30 (the model's operating point (max_f1)): the model's")


def test_meaning_of_a_custom_value_says_which_boxes_are_dashed():
    card = _tiered()
    assert thresholds.meaning(0.15, card) == (
        "0.15: every box with confidence >= 0.15 is shown, on images of any call; boxes below 0.2231 "
        "(the high-specificity box threshold) are dashed."
    )
    assert "dashed" not in thresholds.meaning(0.5, card)


def test_the_shipped_card_starts_at_its_exact_high_sensitivity_box_threshold():
    card = ModelCard.model_validate(json.loads(SHIPPED_CARD.read_text()))
    assert card.operating_points is not None
    assert thresholds.start_value(card) == card.operating_points.high_sensitivity.box_threshold
    assert thresholds.start_value(card) in thresholds.options(card)
    assert thresholds.floor_value(card) > 0


def test_format_value_never_shows_an_exact_point_as_its_rounded_neighbour():
    assert thresholds.format_value(0.25) == "0.25"
    assert thresholds.format_value(0.0) == "0.00"
    assert thresholds.format_value(0.1065) == "0.1065"
    assert thresholds.format_value(0.01875999942421913) == "0.01876"
