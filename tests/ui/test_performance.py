"""bonefrac.ui.performance: the card's sensitivity and specificity in plain words, rounded sensibly."""

import json
from pathlib import Path

from bonefrac.card.record import ModelCard, OperatingPoint, OperatingPoints, Tier
from bonefrac.ui.performance import NO_NUMBERS, STAND_IN_WORDS, percent, performance_lines, short_line

SHIPPED_CARD = Path(__file__).resolve().parents[2] / "deploy" / "model" / "model_card.json"


def _card(**fields):
    return ModelCard(name="m", version="1", class_names=["fractured"], input_size=640, **fields)


def test_percent_rounds_and_gives_the_interval():
    assert percent(0.6885245901639344) == "69 %"
    assert percent({"value": 0.6885, "ci95": [0.5714, 0.7955]}) == "69 % (95 % interval 57-80 %)"
    assert percent(None) is None and percent({"value": None}) is None


def test_the_shipped_card_in_words_from_its_test_split():
    card = ModelCard.model_validate(json.loads(SHIPPED_CARD.read_text()))
    tiers = card.metrics["test"]["two_tier"]
    spec = round(tiers["high_specificity"]["specificity"]["value"] * 100)
    sens = round(tiers["high_specificity"]["sensitivity"]["value"] * 100)
    (line,) = performance_lines(card)
    images, positives = card.metrics["test"]["images"], card.metrics["test"]["positive_images"]
    assert line.startswith(
        f"Measured on the test split ({images} radiographs, {positives} with a fracture): "
    )
    assert f"at the high-specificity point it flags {sens} % (95 % interval" in line
    assert f"clears {spec} % (95 % interval" in line
    assert "at the high-sensitivity point" in line
    assert "0.68852" not in line  # no long floats


def test_tiers_without_test_numbers_use_the_split_they_were_chosen_on():
    points = OperatingPoints(
        image_score="detector",
        split="val",
        high_sensitivity=Tier(
            image_threshold=0.1, box_threshold=0.1, target="s", sensitivity=0.9, specificity=0.5
        ),
        high_specificity=Tier(
            image_threshold=0.4, box_threshold=0.3, target="p", sensitivity=0.6, specificity=0.91
        ),
    )
    (line,) = performance_lines(_card(operating_points=points))
    assert line == (
        "Measured on the val split, where the points were chosen: at the high-specificity point it flags "
        "60 % of radiographs with a fracture (sensitivity) and clears 91 % of those without one "
        "(specificity); at the high-sensitivity point it flags 90 % of radiographs with a fracture "
        "(sensitivity) and clears 50 % of those without one (specificity)."
    )


def test_a_single_operating_point_and_a_card_without_numbers():
    point = OperatingPoint(threshold=0.2, rule="max_f1", split="val", sensitivity=0.4853, specificity=0.9245)
    (line,) = performance_lines(_card(operating_point=point))
    assert line.startswith(
        "Measured on the val split, where the point was chosen: at its operating point it flags 49 %"
    )
    assert "clears 92 %" in line
    assert performance_lines(_card()) == [NO_NUMBERS]
    assert performance_lines(_card(stand_in=True, operating_point=point)) == [STAND_IN_WORDS]


def test_the_short_line_beside_each_result():
    card = ModelCard.model_validate(json.loads(SHIPPED_CARD.read_text()))
    tiers = card.metrics["test"]["two_tier"]
    spec_point = tiers["high_specificity"]
    sens, spec = (round(spec_point[k]["value"] * 100) for k in ("sensitivity", "specificity"))
    line = short_line(card)
    assert line.startswith(
        f"How far to trust this: sensitivity {sens} %, specificity {spec} % at the high-spec"
    )
    assert line.endswith("at the high-sensitivity point (measured on the test split).")
    assert short_line(_card()) == NO_NUMBERS
