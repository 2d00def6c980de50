"""How well the model does, in plain words from its card (model_card.json), for beside every result.

Test-split numbers when the card has them (the two tiers' `metrics.test.two_tier`, else the single threshold's
`metrics.test`), else the numbers on the split the operating points were chosen on; percentages rounded to
whole numbers, with the 95 % interval when the card gives one.
"""

from __future__ import annotations

from typing import Any

from bonefrac.card.record import ModelCard

NO_NUMBERS = "Its card gives no measured sensitivity or specificity."
STAND_IN_WORDS = (
    "This stand-in model was trained on synthetic images: it has no measured performance on radiographs."
)


def _value(metric: Any) -> float | None:
    """A card metric's value: a bare number, or {"value": ..., "ci95": [...]}."""
    if isinstance(metric, dict):
        metric = metric.get("value")
    return float(metric) if isinstance(metric, int | float) else None


def _interval(metric: Any) -> tuple[float, float] | None:
    ci = metric.get("ci95") if isinstance(metric, dict) else None
    if isinstance(ci, list | tuple) and len(ci) == 2 and all(isinstance(v, int | float) for v in ci):
        return float(ci[0]), float(ci[1])
    return None


def percent(metric: Any) -> str | None:
    """ "69 %" or "69 % (95 % interval 57-80 %)"; None when the metric has no value."""
    value = _value(metric)
    if value is None:
        return None
    text = f"{round(value * 100)} %"
    interval = _interval(metric)
    if interval:
        text += f" (95 % interval {round(interval[0] * 100)}-{round(interval[1] * 100)} %)"
    return text


def _pair(name: str, sensitivity: Any, specificity: Any) -> str | None:
    found, cleared = percent(sensitivity), percent(specificity)
    if found is None or cleared is None:
        return None
    return (
        f"at {name} it flags {found} of radiographs with a fracture (sensitivity) and clears {cleared} of "
        "those without one (specificity)"
    )


def _split_words(block: dict[str, Any], split: str) -> str:
    images, positives = block.get("images"), block.get("positive_images")
    if isinstance(images, int) and isinstance(positives, int):
        return f"on the {split} split ({images} radiographs, {positives} with a fracture)"
    if isinstance(images, int):
        return f"on the {split} split ({images} radiographs)"
    return f"on the {split} split"


def performance_lines(card: ModelCard) -> list[str]:
    """The model's measured sensitivity and specificity as sentences (one per source), for beside a result."""
    if card.stand_in:
        return [STAND_IN_WORDS]
    test = card.metrics.get("test") if isinstance(card.metrics.get("test"), dict) else None
    two_tier = test.get("two_tier") if test else None
    if isinstance(two_tier, dict) and card.operating_points is not None:
        parts = [
            _pair(label, two_tier.get(key, {}).get("sensitivity"), two_tier.get(key, {}).get("specificity"))
            for key, label in (
                ("high_specificity", "the high-specificity point"),
                ("high_sensitivity", "the high-sensitivity point"),
            )
            if isinstance(two_tier.get(key), dict)
        ]
        lines = [p for p in parts if p]
        if lines and test is not None:
            return [f"Measured {_split_words(test, 'test')}: {'; '.join(lines)}."]
    if card.operating_points is not None:
        points = card.operating_points
        parts = [
            _pair(label, tier.sensitivity, tier.specificity)
            for tier, label in (
                (points.high_specificity, "the high-specificity point"),
                (points.high_sensitivity, "the high-sensitivity point"),
            )
        ]
        lines = [p for p in parts if p]
        if lines:
            split = points.split or "validation"
            return [f"Measured on the {split} split, where the points were chosen: {'; '.join(lines)}."]
    if test is not None:
        pair = _pair("its operating point", test.get("sensitivity"), test.get("specificity"))
        if pair:
            return [f"Measured {_split_words(test, 'test')}: {pair}."]
    point = card.operating_point
    pair = _pair("its operating point", point.sensitivity, point.specificity)
    if pair:
        return [f"Measured on the {point.split or 'validation'} split, where the point was chosen: {pair}."]
    return [NO_NUMBERS]
