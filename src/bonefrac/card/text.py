"""Numbers as the card's texts write them: 'value [low, high]', 'n/a', '3 boxes'."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bonefrac.evaluate.record import Metric


def as_metric(entry: Metric | Mapping[str, Any] | float | None) -> Metric:
    """A Metric from a record, a {"value", "ci95"} mapping (as model_card.json holds it) or a plain number."""
    if isinstance(entry, Metric):
        return entry
    if isinstance(entry, Mapping):
        return Metric.model_validate(dict(entry))
    return Metric(value=entry)


def fmt(entry: Metric | Mapping[str, Any] | float | None, digits: int = 3) -> str:
    """A metric as 'value [low, high]' (or 'n/a' when undefined)."""
    metric = as_metric(entry)
    if metric.value is None or not math.isfinite(metric.value):
        return "n/a"
    text = f"{metric.value:.{digits}f}"
    if metric.ci95 is not None:
        text += f" [{metric.ci95[0]:.{digits}f}, {metric.ci95[1]:.{digits}f}]"
    return text


def count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"
