"""Group images by a metadata CSV column (FracAtlas: body region, view) for a metric breakdown.

The CSV has one row per image; its key column holds the image file name (or its stem). The grouping
column is either one column (each distinct value is a group) or one-hot columns written as
`name=col1,col2,...` (or just `col1,col2,...`): an image's group is the columns that are 1, joined by
'+', or 'none'. For FracAtlas: `region=hand,leg,hip,shoulder` or `view=frontal,lateral,oblique`.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bonefrac.errors import EvaluationError

TRUE_VALUES = frozenset({"1", "true", "yes", "y", "t"})


@dataclass(frozen=True)
class Grouping:
    """A name for the breakdown and the group of each image ('unknown' when the CSV has no row for it)."""

    name: str
    groups: tuple[str, ...]
    unmatched: int

    def masks(self) -> dict[str, np.ndarray]:
        labels = np.asarray(self.groups)
        return {g: (labels == g) for g in sorted(set(self.groups))}


def _check_columns(wanted: Sequence[str], available: Sequence[str], csv_path: Path) -> None:
    for column in wanted:
        if column not in available:
            close = difflib.get_close_matches(column, available, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise EvaluationError(
                f"column {column!r} is not in {csv_path}{hint} (columns: {', '.join(available)})"
            )


def parse_column_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    """'view=frontal,lateral' -> ('view', ('frontal', 'lateral')); 'region' -> ('region', ('region',))."""
    name, _, columns = spec.partition("=") if "=" in spec else ("", "", spec)
    parts = tuple(c.strip() for c in columns.split(",") if c.strip())
    if not parts:
        raise EvaluationError(f"metadata column {spec!r} names no column; use COL or NAME=COL1,COL2,...")
    return (name.strip() or "+".join(parts)), parts


def group_images(
    csv_path: Path, column_spec: str, image_paths: Sequence[Path], key_column: str | None = None
) -> Grouping:
    """The group of each image according to the CSV (see the module doc)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise EvaluationError(f"metadata CSV not found: {csv_path}")
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    if not columns:
        raise EvaluationError(f"{csv_path} has no header row")
    key = key_column or columns[0]
    name, wanted = parse_column_spec(column_spec)
    _check_columns([key, *wanted], columns, csv_path)
    by_key: dict[str, dict[str, str]] = {}
    for entry in rows:
        value = (entry.get(key) or "").strip()
        by_key[value] = entry
        by_key.setdefault(Path(value).stem, entry)
    groups, unmatched = [], 0
    for path in image_paths:
        row = by_key.get(Path(path).name) or by_key.get(Path(path).stem)
        if row is None:
            unmatched += 1
            groups.append("unknown")
        elif len(wanted) == 1:
            groups.append((row.get(wanted[0]) or "").strip() or "empty")
        else:
            hot = [c for c in wanted if (row.get(c) or "").strip().lower() in TRUE_VALUES]
            groups.append("+".join(hot) or "none")
    if unmatched == len(image_paths):
        raise EvaluationError(
            f"no image of the split has a row in {csv_path} (key column {key!r} holds e.g. "
            f"{rows[0].get(key) if rows else 'nothing'!r}; "
            f"images are named e.g. {Path(image_paths[0]).name!r})"
        )
    return Grouping(name=name, groups=tuple(groups), unmatched=unmatched)
