"""The runs/ folder: the state of each run, its metrics, and leaderboards over runs (mean and std over seeds).

A run folder is runs/<experiment>/<name>/ with config.yaml; it is finished when metrics.json exists and
interrupted when it has weights/last.pt but no metrics.json. When `bonefrac evaluate` has evaluated the run's
weights into its default folder (weights/eval-<split>/eval.json), the fractured-only box mAP50 from there is
a metric of the run too (`<split>.map50_fractured_only`).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from bonefrac.errors import ConfigError, EvaluationError
from bonefrac.evaluate.eval_file import EVAL_FILENAME, read_eval_report

logger = logging.getLogger(__name__)

RunState = Literal["new", "interrupted", "finished"]
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.yaml"
METRIC_KEYS = ("precision", "recall", "map50", "map50_95")
EVALUATED_KEYS = ("map50_fractured_only",)  # from eval.json beside the weights, when there
METRICS_SCHEMA_VERSION = 1


def run_state(run_dir: Path) -> RunState:
    if (run_dir / METRICS_FILE).is_file():
        return "finished"
    if (run_dir / "weights" / "last.pt").is_file():
        return "interrupted"
    return "new"


@dataclass(frozen=True)
class RunSummary:
    """One run as the leaderboard sees it."""

    run_dir: Path
    experiment: str
    name: str
    group: str  # the matrix cell, else the run name: runs of one group differ only by seed
    seed: int | None
    model: str
    imgsz: int | None
    state: RunState
    epochs_completed: int | None
    train_wall_time_s: float | None
    metrics: dict[str, dict[str, float]]  # split -> metric -> value


def read_run(run_dir: Path) -> RunSummary:
    """Read a run folder (config.yaml, and metrics.json when finished)."""
    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder: it has no {CONFIG_FILE}")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    state = run_state(run_dir)
    metrics: dict[str, dict[str, float]] = {}
    epochs = wall = None
    if state == "finished":
        data = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
        metrics = {s: dict(data[s]) for s in ("val", "test") if isinstance(data.get(s), dict)}
        weights = Path(str(data.get("weights") or "weights/best.pt")).name
        for split, values in metrics.items():
            values.update(_evaluated_metrics(run_dir, split, weights))
        epochs, wall = data.get("epochs_completed"), data.get("train_wall_time_s")
    name = run_dir.name
    return RunSummary(
        run_dir=run_dir,
        experiment=str(config.get("experiment", run_dir.parent.name)),
        name=name,
        group=str(config.get("cell") or name),
        seed=config.get("seed"),
        model=str(config.get("model", "?")),
        imgsz=config.get("imgsz"),
        state=state,
        epochs_completed=epochs,
        train_wall_time_s=wall,
        metrics=metrics,
    )


def _evaluated_metrics(run_dir: Path, split: str, weights: str) -> dict[str, float]:
    """The fractured-only box mAP50 of `bonefrac evaluate` on the run's own weights, if it evaluated them."""
    path = run_dir / "weights" / f"eval-{split}" / EVAL_FILENAME
    if not path.is_file():
        return {}
    try:
        report = read_eval_report(path)
    except EvaluationError as exc:
        logger.warning("leaving out %s: %s", path, exc)
        return {}
    value = report.box_fractured_only.map50.value
    if Path(report.model.weights).name != weights or report.data.split != split or value is None:
        return {}
    return {"map50_fractured_only": value}


def find_run_dirs(root: Path) -> list[Path]:
    """Every run folder at or under `root` (a runs/ folder, an experiment folder, or one run)."""
    if (root / CONFIG_FILE).is_file():
        return [root]
    if not root.is_dir():
        raise ConfigError(f"no runs at {root}: not a folder")
    return sorted(p.parent for p in root.glob("**/" + CONFIG_FILE) if not p.parent.name.startswith("_"))


def collect_runs(paths: Iterable[Path]) -> list[RunSummary]:
    runs: dict[Path, RunSummary] = {}
    for path in paths:
        for run_dir in find_run_dirs(Path(path)):
            runs[run_dir.resolve()] = read_run(run_dir)
    return list(runs.values())


@dataclass(frozen=True)
class LeaderboardRow:
    """A group of runs (one cell, several seeds): mean and sample std of each metric over finished runs."""

    experiment: str
    group: str
    model: str
    runs: int
    finished: int
    seeds: tuple[int, ...]
    mean: dict[str, float]  # "val.map50_95" -> value
    std: dict[str, float]  # NaN with a single run
    train_wall_time_s: float | None


def _metric_columns(runs: Sequence[RunSummary]) -> list[str]:
    splits = [s for s in ("val", "test") if any(s in r.metrics for r in runs)]
    columns = []
    for split in splits:
        evaluated = [k for k in EVALUATED_KEYS if any(k in r.metrics.get(split, {}) for r in runs)]
        columns += [f"{split}.{key}" for key in (*METRIC_KEYS, *evaluated)]
    return columns


def leaderboard(runs: Sequence[RunSummary]) -> tuple[list[LeaderboardRow], list[str]]:
    """Group runs by (experiment, group), best val mAP50-95 first; return rows and metric columns."""
    columns = _metric_columns(runs)
    groups: dict[tuple[str, str], list[RunSummary]] = {}
    for run in runs:
        groups.setdefault((run.experiment, run.group), []).append(run)
    rows = []
    for (experiment, group), members in groups.items():
        done = [r for r in members if r.state == "finished"]
        mean: dict[str, float] = {}
        std: dict[str, float] = {}
        for column in columns:
            split, key = column.split(".")
            values = [float(r.metrics[split][key]) for r in done if key in r.metrics.get(split, {})]
            mean[column] = statistics.fmean(values) if values else math.nan
            std[column] = statistics.stdev(values) if len(values) > 1 else math.nan
        walls = [r.train_wall_time_s for r in done if r.train_wall_time_s is not None]
        rows.append(
            LeaderboardRow(
                experiment=experiment,
                group=group,
                model=members[0].model,
                runs=len(members),
                finished=len(done),
                seeds=tuple(sorted(r.seed for r in members if r.seed is not None)),
                mean=mean,
                std=std,
                train_wall_time_s=statistics.fmean(walls) if walls else None,
            )
        )
    sort_key = "val.map50_95"
    rows.sort(
        key=lambda r: (
            -(r.mean.get(sort_key, math.nan)) if not math.isnan(r.mean.get(sort_key, math.nan)) else math.inf,
            r.experiment,
            r.group,
        )
    )
    return rows, columns


def write_leaderboard_csv(rows: Sequence[LeaderboardRow], columns: Sequence[str], path: Path) -> Path:
    """One line per group: identity, run counts, then <metric>_mean and <metric>_std per metric."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["experiment", "group", "model", "runs", "finished", "seeds", "train_wall_time_s"]
        for column in columns:
            header += [f"{column}_mean", f"{column}_std"]
        writer.writerow(header)
        for row in rows:
            line: list[Any] = [
                row.experiment,
                row.group,
                row.model,
                row.runs,
                row.finished,
                " ".join(str(s) for s in row.seeds),
                "" if row.train_wall_time_s is None else round(row.train_wall_time_s, 2),
            ]
            for column in columns:
                line += [_csv_number(row.mean[column]), _csv_number(row.std[column])]
            writer.writerow(line)
    return path


def _csv_number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.5f}"


def plot_leaderboard(rows: Sequence[LeaderboardRow], path: Path, metric: str = "val.map50_95") -> Path:
    """Horizontal bars of `metric` per group, with std over seeds as error bars (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if not math.isnan(r.mean.get(metric, math.nan))]
    if not shown:
        raise ConfigError(f"nothing to plot: no finished run has {metric}")
    labels = [f"{r.experiment}/{r.group}" for r in shown][::-1]
    means = [r.mean[metric] for r in shown][::-1]
    errors = [0.0 if math.isnan(r.std[metric]) else r.std[metric] for r in shown][::-1]
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.35 * len(shown)))
    ax.barh(labels, means, xerr=errors, color="#4477aa", ecolor="#222222", capsize=3)
    ax.set_xlabel(f"{metric} (mean over seeds, bars: std)")
    ax.set_xlim(0, max(1e-3, max(m + e for m, e in zip(means, errors, strict=True)) * 1.1))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
