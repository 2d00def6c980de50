"""The UI's threshold control: where it starts, the model's named operating points, its floor and its steps.

The control starts exactly at the model's operating points (the high-sensitivity box threshold, never a
rounded neighbour), and there it asks for the model's own answer (two tiers, image calls). Any other value is
the lowest box confidence shown, on images of any call. Its values are a 0.01 grid plus the exact named
points, so moving away and back lands on the same number; the floor keeps the page from drowning in boxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bonefrac.card.record import ModelCard
from bonefrac.infer.tiers import points_for

STEP = 0.01
FLOOR = 0.05  # the lowest value offered, unless one of the model's named points lies lower


@dataclass(frozen=True)
class NamedPoint:
    """One of the model's operating points as a threshold value, with a short name and its meaning."""

    key: str  # "operating_points", "high_specificity", "single_threshold"
    name: str
    value: float
    meaning: str


def start_value(card: ModelCard) -> float:
    """Where the control starts (and "reset" returns): the high-sensitivity box threshold, unrounded."""
    return float(points_for(card).high_sensitivity.box_threshold)


def named_points(card: ModelCard) -> list[NamedPoint]:
    """The model's operating points as threshold values (model_card.json), the starting one first; a value
    that two names share is listed once, under the first name."""
    points = points_for(card)
    tiered = card.operating_points is not None
    start = start_value(card)
    named = [
        NamedPoint(
            "operating_points",
            "the model's operating points"
            if tiered
            else f"the model's operating point ({card.operating_point.rule})",
            start,
            "the model's own answer: image calls at both operating points, solid and dashed boxes"
            if tiered
            else "the model's own answer at its validated threshold",
        )
    ]
    if tiered:
        spec = points.high_specificity
        named.append(
            NamedPoint(
                "high_specificity",
                "high-specificity boxes",
                float(spec.box_threshold),
                f"boxes of the high-specificity tier ({spec.target}) only, on images of any call",
            )
        )
        single = card.operating_point
        named.append(
            NamedPoint(
                "single_threshold",
                f"single threshold ({single.rule})",
                float(single.threshold),
                "the detector's one threshold of the card's single-threshold metrics, on images of any call",
            )
        )
    unique: list[NamedPoint] = []
    for point in named:
        if all(point.value != kept.value for kept in unique):
            unique.append(point)
    return unique


def floor_value(card: ModelCard) -> float:
    """The lowest value offered: FLOOR, or the lowest named point when that lies below it."""
    return min(FLOOR, *(point.value for point in named_points(card)))


def options(card: ModelCard) -> tuple[float, ...]:
    """Every value offered, ascending: the floor, a 0.01 grid above it up to 1, and the named points."""
    floor = floor_value(card)
    grid = [round(k * STEP, 10) for k in range(math.ceil(floor / STEP - 1e-9), round(1 / STEP) + 1)]
    values = {floor, *grid, *(point.value for point in named_points(card))}
    return tuple(sorted(v for v in values if floor <= v <= 1.0))


def format_value(value: float) -> str:
    """A threshold as text: two decimals on the 0.01 grid ("0.25"), else four significant digits
    ("0.01876"), so an exact operating point never reads as its rounded neighbour."""
    return f"{value:.2f}" if round(value, 2) == value else f"{value:.4g}"


def option_label(value: float, card: ModelCard) -> str:
    """How a value reads on the control: "0.25", or "0.01876 (the model's operating points)"."""
    for point in named_points(card):
        if value == point.value:
            return f"{format_value(value)} ({point.name})"
    return format_value(value)


def request_threshold(value: float, card: ModelCard) -> float | None:
    """What to ask the model for: None (its own operating points) at the start value, else `value`."""
    return None if value == start_value(card) else float(value)


def meaning(value: float, card: ModelCard) -> str:
    """What the current value does, in words, for beside the control."""
    for point in named_points(card):
        if value == point.value:
            return f"{option_label(value, card)}: {point.meaning}."
    spec = points_for(card).high_specificity.box_threshold
    dashed = (
        f"; boxes below {spec:.4g} (the high-specificity box threshold) are dashed" if value < spec else ""
    )
    return f"{value:.2f}: every box with confidence >= {value:.2f} is shown, on images of any call{dashed}."
