"""How well the model does, in plain words from its card (model_card.json), for beside every result.

Test-split numbers when the card has them (the two tiers' `metrics.test.two_tier`, else the single threshold's
`metrics.test`), else the numbers on the split the operating points were chosen on; percentages rounded to
whole numbers, with the 95 % interval when the card gives one.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Measured:
    """Where the numbers were measured, and (operating point name, sensitivity, specificity) per point."""

    split: str  # "test", "val"
    detail: str  # " (423 radiographs, 61 with a fracture)", ", where the points were chosen"
    points: tuple[tuple[str, Any, Any], ...]

    @property
    def where(self) -> str:
        return f"on the {self.split} split{self.detail}"


def _test_detail(block: dict[str, Any]) -> str:
    images, positives = block.get("images"), block.get("positive_images")
    if isinstance(images, int) and isinstance(positives, int):
        return f" ({images} radiographs, {positives} with a fracture)"
    return f" ({images} radiographs)" if isinstance(images, int) else ""


def _complete(split: str, detail: str, points: list[tuple[str, Any, Any]]) -> Measured | None:
    kept = tuple(p for p in points if _value(p[1]) is not None and _value(p[2]) is not None)
    return Measured(split, detail, kept) if kept else None


def measured(card: ModelCard) -> Measured | None:
    """The card's sensitivity and specificity per operating point, from the best source it has."""
    test = card.metrics.get("test") if isinstance(card.metrics.get("test"), dict) else None
    two_tier = test.get("two_tier") if test else None
    names = (
        ("high_specificity", "the high-specificity point"),
        ("high_sensitivity", "the high-sensitivity point"),
    )
    found: Measured | None = None
    if isinstance(two_tier, dict) and card.operating_points is not None and test is not None:
        tiers = [(label, two_tier.get(key)) for key, label in names]
        found = _complete(
            "test",
            _test_detail(test),
            [
                (label, t.get("sensitivity"), t.get("specificity"))
                for label, t in tiers
                if isinstance(t, dict)
            ],
        )
    if found is None and card.operating_points is not None:
        points = card.operating_points
        split = points.split or "validation"
        found = _complete(
            split,
            ", where the points were chosen",
            [
                (label, getattr(points, key).sensitivity, getattr(points, key).specificity)
                for key, label in names
            ],
        )
    if found is None and test is not None:
        found = _complete(
            "test",
            _test_detail(test),
            [("its operating point", test.get("sensitivity"), test.get("specificity"))],
        )
    if found is None:
        point = card.operating_point
        found = _complete(
            point.split or "validation",
            ", where the point was chosen",
            [("its operating point", point.sensitivity, point.specificity)],
        )
    return found


def performance_lines(card: ModelCard) -> list[str]:
    """The model's measured sensitivity and specificity as a sentence, with intervals, for the page's head."""
    if card.stand_in:
        return [STAND_IN_WORDS]
    numbers = measured(card)
    if numbers is None:
        return [NO_NUMBERS]
    parts = [
        f"at {name} it flags {percent(sens)} of radiographs with a fracture (sensitivity) and clears "
        f"{percent(spec)} of those without one (specificity)"
        for name, sens, spec in numbers.points
    ]
    return [f"Measured {numbers.where}: {'; '.join(parts)}."]


def short_line(card: ModelCard) -> str:
    """The same numbers in one short line, for beside each result: "Sensitivity 69 %, specificity 85 % at
    the high-specificity point; 87 % and 49 % at the high-sensitivity point (test split)"."""
    if card.stand_in:
        return STAND_IN_WORDS
    numbers = measured(card)
    if numbers is None:
        return NO_NUMBERS
    parts = []
    for index, (name, sens, spec) in enumerate(numbers.points):
        found, cleared = (f"{round((_value(m) or 0.0) * 100)} %" for m in (sens, spec))
        words = f"sensitivity {found}, specificity {cleared}" if index == 0 else f"{found} and {cleared}"
        parts.append(f"{words} at {name}")
    return f"How far to trust this: {'; '.join(parts)} (measured on the {numbers.split} split)."
