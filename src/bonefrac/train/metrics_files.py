"""Per-epoch metrics: ultralytics' results.csv as rows with plain names, written as JSON lines."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path


def plain_metric_name(column: str) -> str:
    """'metrics/mAP50-95(B)' -> 'map50_95', 'train/box_loss' -> 'train_box_loss', 'lr/pg0' -> 'lr_pg0'."""
    name = column.strip().replace("(B)", "")
    name = re.sub(r"^metrics/", "", name)
    name = name.replace("mAP50-95", "map50_95").replace("mAP50", "map50")
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower()


def read_epoch_rows(results_csv: Path) -> list[dict[str, float]]:
    """One dict per epoch (numbers only); [] when the file is missing (no epoch finished)."""
    if not results_csv.is_file():
        return []
    rows = []
    with results_csv.open(newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            row: dict[str, float] = {}
            for column, value in raw.items():
                if column is None or value in (None, ""):
                    continue
                try:
                    row[plain_metric_name(column)] = float(value)
                except ValueError:
                    continue
            if "epoch" in row:
                row["epoch"] = int(row["epoch"])
            rows.append(row)
    return rows


def write_epochs_jsonl(rows: list[dict[str, float]], path: Path) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
