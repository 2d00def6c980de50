"""`bonefrac compare`: several eval.json files (or run folders holding one) side by side.

Writes a table, compare.csv and plots."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonefrac.errors import EvaluationError

# (dotted path in eval.json, column label)
COMPARE_METRICS: list[tuple[str, str]] = [
    ("box.mAP50", "mAP50"),
    ("box.mAP50_95", "mAP50-95"),
    ("box.precision", "precision"),
    ("box.recall", "recall"),
    ("image.auroc", "AUROC"),
    ("image.sensitivity", "sensitivity"),
    ("image.specificity", "specificity"),
    ("froc.score", "FROC"),
]


@dataclass(frozen=True)
class CompareOutcome:
    rows: list[dict[str, Any]]
    csv_path: Path
    plots: list[Path]


def find_eval_json(path: Path) -> Path:
    """An eval.json file itself, or the one eval.json inside a folder (searched recursively)."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        direct = path / "eval.json"
        if direct.is_file():
            return direct
        found = sorted(path.rglob("eval.json"))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listed = ", ".join(str(p) for p in found[:5])
            raise EvaluationError(f"{path} holds {len(found)} eval.json files ({listed}); name one of them")
        raise EvaluationError(f"no eval.json in {path}; run `bonefrac evaluate` on its weights first")
    raise EvaluationError(f"not found: {path} (expected an eval.json or a folder that holds one)")


def _get(result: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    node: Any = result
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else {"value": node, "ci95": None}


def load_eval(path: Path) -> dict[str, Any]:
    try:
        result = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"cannot read {path}: {exc}") from exc
    if not isinstance(result, dict) or not str(result.get("format", "")).startswith("bonefrac.eval/"):
        raise EvaluationError(f"{path} is not a bonefrac eval.json (no 'format': 'bonefrac.eval/...')")
    return result


def _names(paths: Sequence[Path]) -> list[str]:
    """Short distinct names: the folder above eval-<split>/ (the run), else the file's folder."""
    names = []
    for path in paths:
        folder = path.parent
        parts = [p for p in folder.parts if p not in ("weights",) and not p.startswith("eval")]
        names.append("/".join(parts[-2:]) if parts else folder.name)
    if len(set(names)) < len(names):
        names = [str(p.parent) for p in paths]
    return names


def compare(inputs: Sequence[Path], out_dir: Path) -> CompareOutcome:
    """Rows of the main metrics per evaluation; writes compare.csv and two PNG plots into out_dir."""
    if not inputs:
        raise EvaluationError("compare needs at least one eval.json or run folder")
    paths = [find_eval_json(Path(p)) for p in inputs]
    results = [load_eval(p) for p in paths]
    rows = []
    for name, path, result in zip(_names(paths), paths, results, strict=True):
        rows.append(
            {
                "name": name,
                "path": str(path),
                "split": result.get("data", {}).get("split"),
                "threshold": result.get("image", {}).get("threshold"),
                "metrics": {key: _get(result, key) for key, _ in COMPARE_METRICS},
            }
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "compare.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["name", "split", "threshold"]
        for _, label in COMPARE_METRICS:
            header += [label, f"{label}_ci_low", f"{label}_ci_high"]
        writer.writerow(header + ["path"])
        for row in rows:
            line = [row["name"], row["split"], row["threshold"]]
            for key, _ in COMPARE_METRICS:
                entry = row["metrics"][key] or {}
                ci = entry.get("ci95") or [None, None]
                line += [entry.get("value"), ci[0], ci[1]]
            writer.writerow(line + [row["path"]])
    from bonefrac.evaluate import plots

    bars = out_dir / "compare_metrics.png"
    bars.write_bytes(plots.compare_bars_png(rows, COMPARE_METRICS))
    curves = out_dir / "compare_curves.png"
    curves.write_bytes(
        plots.compare_curves_png([(r["name"], res) for r, res in zip(rows, results, strict=True)])
    )
    return CompareOutcome(rows=rows, csv_path=csv_path, plots=[bars, curves])


def format_cell(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("value") is None:
        return "n/a"
    ci = entry.get("ci95")
    return f"{entry['value']:.3f}" + (f" [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else "")
