"""Two-tier output: image score, image call and box tiers from the card's operating points."""

from __future__ import annotations

import numpy as np
import pytest

from bonefrac.card.record import ModelCard, OperatingPoint, OperatingPoints, Tier
from bonefrac.infer.tiers import (
    box_styles,
    box_tiers,
    describe_points,
    image_call,
    image_score,
    points_for,
)


def _points(weight: float = 0.75) -> OperatingPoints:
    return OperatingPoints(
        image_score="fused",
        classifier_weight=weight,
        split="val",
        high_sensitivity=Tier(image_threshold=0.2, box_threshold=0.05, target="sensitivity>=0.9"),
        high_specificity=Tier(image_threshold=0.6, box_threshold=0.3, target="specificity>=0.9"),
    )


def test_fused_score_weights_classifier_and_detector() -> None:
    assert image_score(_points(0.75), detector_top=0.2, classifier_probability=0.6) == pytest.approx(0.5)
    assert image_score(_points(0.0), detector_top=0.2, classifier_probability=0.9) == pytest.approx(0.2)


def test_fused_score_needs_the_classifier() -> None:
    with pytest.raises(ValueError, match="no classifier probability"):
        image_score(_points(), detector_top=0.2, classifier_probability=None)


@pytest.mark.parametrize(
    ("score", "call"),
    [(0.7, "high_specificity"), (0.6, "high_specificity"), (0.3, "high_sensitivity"), (0.1, "negative")],
)
def test_image_call_is_the_strictest_tier_reached(score: float, call: str) -> None:
    assert image_call(_points(), score) == call


def test_box_tiers_follow_the_image_call() -> None:
    confidences = np.array([0.5, 0.1, 0.01])
    assert box_tiers(_points(), confidences, "high_specificity") == [
        "high_specificity",
        "high_sensitivity",
        None,
    ]
    assert box_tiers(_points(), confidences, "high_sensitivity") == [
        "high_sensitivity",
        "high_sensitivity",
        None,
    ]
    assert box_tiers(_points(), confidences, "negative") == [None, None, None]


def test_a_users_minimum_confidence_shows_boxes_on_any_image() -> None:
    confidences = np.array([0.5, 0.1, 0.01])
    tiers = box_tiers(_points(), confidences, "negative", min_confidence=0.005)
    assert tiers == ["high_specificity", "high_sensitivity", "high_sensitivity"]


def test_card_without_tiers_uses_its_single_threshold_for_both() -> None:
    card = ModelCard(
        name="m",
        version="1",
        class_names=["fractured"],
        input_size=64,
        operating_point=OperatingPoint(threshold=0.25, rule="max_f1", split="val"),
    )
    points = points_for(card)
    assert points.image_score == "detector"
    assert points.high_sensitivity.box_threshold == points.high_specificity.box_threshold == 0.25
    assert image_call(points, image_score(points, 0.3, None)) == "high_specificity"
    assert box_tiers(points, np.array([0.3, 0.2]), "high_specificity") == ["high_specificity", None]


def test_a_users_minimum_confidence_above_the_solid_tier_drops_weaker_boxes() -> None:
    confidences = np.array([0.9, 0.5, 0.1])
    tiers = box_tiers(_points(), confidences, "high_specificity", min_confidence=0.6)
    assert tiers == ["high_specificity", None, None]


def test_describe_points_in_words() -> None:
    lines = describe_points(_points(0.75), tiered=True)
    assert lines == [
        "high specificity (solid boxes): image score >= 0.600, boxes >= 0.300 (specificity>=0.9)",
        "high sensitivity (dashed boxes): image score >= 0.200, boxes >= 0.050 (sensitivity>=0.9)",
        "image score = 0.75 x classifier probability + 0.25 x the detector's top box",
    ]
    card = ModelCard(name="m", version="1", class_names=["f"], input_size=64)
    assert describe_points(points_for(card), tiered=False) == [
        "one operating point for both tiers: 0.250 (default); every box at or above it is solid",
        "image score = the detector's highest box confidence",
    ]


def test_box_styles_solid_and_dashed() -> None:
    assert box_styles(["high_specificity", "high_sensitivity"]) == ["solid", "dashed"]
