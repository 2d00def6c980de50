"""YOLO label lines: the one parser every stage uses (the data check, evaluation's ground truth).

A line is `class cx cy w h` (normalised to 0..1), or a segmentation polygon `class x1 y1 x2 y2 x3 y3 ...`
(three points or more). A polygon counts as its bounding box everywhere, as ultralytics trains on it; the
parser says so with a warning, which the data check reports and evaluation does not repeat.

What is wrong with a line comes back as `LabelProblem`s (severity + message), worded for the data check:
- errors that make the line unreadable (field count, not a finite number, class id): `box` is None;
- errors in the box itself (coordinates outside 0..1, no size): `box` is given, `usable` is False. The data
  check drops such a box; evaluation clips it to the image and keeps what has area left;
- warnings (polygon, box sticking out of the image): the box is usable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bonefrac.records import Severity

EDGE_TOLERANCE = 1e-3  # normalised units a box may stick out of the image before it is worth a warning
BOX_FIELDS = 5  # class cx cy w h
MIN_POLYGON_POINTS = 3


@dataclass(frozen=True)
class LabelProblem:
    severity: Severity
    message: str


@dataclass(frozen=True)
class LabelLine:
    """One parsed label line: its box as (class, cx, cy, w, h) in normalised units, and its problems."""

    box: tuple[float, float, float, float, float] | None
    problems: tuple[LabelProblem, ...] = ()
    polygon_points: int = 0  # 0 for a box line

    @property
    def usable(self) -> bool:
        """A box the data check accepts: readable and without errors (warnings allowed)."""
        return self.box is not None and not any(p.severity == "error" for p in self.problems)

    @property
    def class_id(self) -> int | None:
        return None if self.box is None else int(self.box[0])


def _parse_numbers(fields: list[str]) -> list[float] | str:
    values = []
    for text in fields:
        try:
            value = float(text)
        except ValueError:
            return f"{text!r} is not a number"
        if not math.isfinite(value):
            return f"{text!r} is not a finite number"
        values.append(value)
    return values


def _check_class(value: float, num_classes: int) -> str | None:
    if value != int(value):
        return f"class id {value:g} is not an integer"
    if not 0 <= value < num_classes:
        return f"class id {int(value)} is out of range 0..{num_classes - 1}"
    return None


def box_problems(cx: float, cy: float, w: float, h: float) -> tuple[list[str], list[str]]:
    """(errors, warnings) for one normalised cx, cy, w, h box."""
    errors, warnings = [], []
    outside = [f"{n}={v:g}" for n, v in (("cx", cx), ("cy", cy), ("w", w), ("h", h)) if not 0.0 <= v <= 1.0]
    if outside:
        errors.append(
            f"coordinates outside 0..1 ({', '.join(outside)}); YOLO wants normalised cx cy w h, "
            "and ultralytics ignores the whole image when it sees this"
        )
    if w <= 0 or h <= 0:
        errors.append(f"box has zero or negative size (w={w:g}, h={h:g})")
    if not errors:
        overhang = max(w / 2 - cx, cx + w / 2 - 1, h / 2 - cy, cy + h / 2 - 1)
        if overhang > EDGE_TOLERANCE:
            warnings.append(f"box extends {overhang:.3f} past the image edge (ultralytics clips it)")
    return errors, warnings


def polygon_bounds(xs: list[float], ys: list[float]) -> tuple[float, float, float, float]:
    """The bounding box (cx, cy, w, h) of a polygon's points."""
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0


def parse_label_line(line: str | list[str], num_classes: int) -> LabelLine:
    """One label line (text, or its whitespace-split fields) -> `LabelLine`. An empty line is unreadable."""
    fields = line.split() if isinstance(line, str) else list(line)
    n = len(fields)
    points = (n - 1) // 2
    is_polygon = n % 2 == 1 and points >= MIN_POLYGON_POINTS
    if n != BOX_FIELDS and not is_polygon:
        return LabelLine(None, (LabelProblem("error", f"expected 5 fields (class cx cy w h), got {n}"),))
    values = _parse_numbers(fields)
    if isinstance(values, str):
        return LabelLine(None, (LabelProblem("error", values),))
    class_error = _check_class(values[0], num_classes)
    if class_error:
        return LabelLine(None, (LabelProblem("error", class_error),))
    problems: list[LabelProblem] = []
    if is_polygon:
        problems.append(
            LabelProblem(
                "warning",
                f"a segmentation polygon ({points} points), not a box; "
                "ultralytics trains on its bounding box",
            )
        )
        cx, cy, w, h = polygon_bounds(values[1::2], values[2::2])
    else:
        cx, cy, w, h = values[1:]
    errors, warnings = box_problems(cx, cy, w, h)
    problems += [LabelProblem("error", text) for text in errors]
    problems += [LabelProblem("warning", text) for text in warnings]
    return LabelLine((values[0], cx, cy, w, h), tuple(problems), points if is_polygon else 0)
