"""`bonefrac train`, `bonefrac experiment run`, `bonefrac runs list|compare`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bonefrac.records import SplitMetrics

console = Console()

experiment_app = typer.Typer(
    help="Run experiment matrices (a base config plus variants, over seeds).", no_args_is_help=True
)
runs_app = typer.Typer(help="List and compare training runs under runs/.", no_args_is_help=True)

SET_HELP = "Override a config key, e.g. --set epochs=5 --set loss.dfl=2.0 --set device=0 (repeatable)."


def train(
    config: Path = typer.Argument(
        ..., help="Training config YAML (example: configs/train/fracatlas_yolo11n.yaml; keys: docs/train.md)."
    ),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from weights/last.pt."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete the run folder first if it exists."),
) -> None:
    """Train one YOLO model from a YAML config; writes runs/<experiment>/<name>/ (weights, metrics.json)."""
    from bonefrac.train.config import load_train_config
    from bonefrac.train.progress import RichTrainingProgress
    from bonefrac.train.runner import train_model

    cfg = load_train_config(config, set_)
    result = train_model(cfg, resume=resume, overwrite=overwrite, progress=RichTrainingProgress())
    _print_result_table([(result.run_dir, result.metrics)])
    console.print(f"weights: {result.best_weights}")


def _print_result_table(results: Sequence[tuple[Path, Mapping[str, SplitMetrics]]]) -> None:
    table = Table("run", "split", "images", "P", "R", "mAP50", "mAP50-95")
    for run_dir, metrics in results:
        for split, m in metrics.items():
            table.add_row(
                str(run_dir),
                split,
                str(m.images),
                f"{m.precision:.3f}",
                f"{m.recall:.3f}",
                f"{m.map50:.3f}",
                f"{m.map50_95:.3f}",
            )
    console.print(table)


@experiment_app.command("run")
def experiment_run(
    matrix: Path = typer.Argument(..., help="Matrix YAML, e.g. configs/experiments/seed.yaml."),
    only: list[str] = typer.Option(
        [], "--only", help="Run only these cells (names or patterns like 'dfl-*')."
    ),
    seeds: int | None = typer.Option(None, "--seeds", help="Run seeds 0..N-1 (default: the file's seeds)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP + " Applies to every cell."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would run, train nothing."),
) -> None:
    """Expand a matrix into runs and run them: finished runs are skipped, interrupted ones resume."""
    from bonefrac.train.experiments import expand_matrix, load_experiment, planned_action, run_experiment

    spec = load_experiment(matrix)
    planned = expand_matrix(spec, str(matrix), only=only, seeds=seeds, overrides=set_)
    table = Table("cell", "seed", "model", "run folder", "action")
    for run in planned:
        table.add_row(run.cell, str(run.seed), run.config.model, str(run.config.run_dir), planned_action(run))
    console.print(table)
    if dry_run:
        return
    from bonefrac.train.progress import RichTrainingProgress
    from bonefrac.train.runner import train_model

    progress = RichTrainingProgress()
    outcomes = run_experiment(planned, lambda cfg, resume: train_model(cfg, resume=resume, progress=progress))
    done = sum(o.action != "skip" for o in outcomes)
    console.print(f"{spec.experiment}: {done} run(s) trained or resumed, {len(outcomes) - done} skipped")
    runs_list(paths=[Path(planned[0].config.runs_dir) / spec.experiment], csv=None, plot=None)


TABLE_COLUMNS = {
    "val.precision": "val P",
    "val.recall": "val R",
    "val.map50": "val mAP50",
    "val.map50_95": "val mAP50-95",
    "test.map50": "test mAP50",
    "test.map50_95": "test mAP50-95",
    "test.map50_fractured_only": "test mAP50 fractured-only",
}


NARROW_HIDDEN = {
    "val.precision",
    "val.recall",
    "test.map50",
}  # shown when the terminal is 120+ wide (and in CSV)


def _fmt(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def _leaderboard(paths: list[Path], csv: Path | None, plot: Path | None, title: str) -> None:
    from bonefrac.train.registry import collect_runs, leaderboard, plot_leaderboard, write_leaderboard_csv

    runs = collect_runs(paths)
    if not runs:
        console.print(f"no runs under {', '.join(str(p) for p in paths)}")
        return
    rows, columns = leaderboard(runs)
    wide = console.width >= 120
    shown = [c for c in columns if c in TABLE_COLUMNS and (wide or c not in NARROW_HIDDEN)]
    headers = ["run", "model", "seeds"] + (["done"] if wide else [])
    table = Table(*headers, *[TABLE_COLUMNS[c] for c in shown], "train s", title=title)
    table.columns[0].overflow = "fold"  # long run names wrap instead of being cut
    for row in rows:
        wall = "-" if row.train_wall_time_s is None else f"{row.train_wall_time_s:.0f}"
        seeds = " ".join(map(str, row.seeds)) or "-"
        cells = [f"{row.experiment}/{row.group}", Path(row.model).stem, seeds]
        if wide:
            cells.append(f"{row.finished}/{row.runs}")
        table.add_row(*cells, *[_fmt(row.mean[c], row.std[c]) for c in shown], wall)
    console.print(table)
    if csv is not None:
        console.print(f"wrote {write_leaderboard_csv(rows, columns, csv)}")
    if plot is not None:
        console.print(f"wrote {plot_leaderboard(rows, plot)}")


@runs_app.command("list")
def runs_list(
    paths: list[Path] = typer.Argument(
        None, help="runs/ folders, experiment folders or runs (default: runs)."
    ),
    csv: Path | None = typer.Option(None, "--csv", help="Also write the leaderboard as CSV."),
    plot: Path | None = typer.Option(None, "--plot", help="Also write a PNG bar chart of val mAP50-95."),
) -> None:
    """Leaderboard of every run: one row per cell, mean ± std over seeds, best val mAP50-95 first."""
    _leaderboard(paths or [Path("runs")], csv, plot, "runs")


@runs_app.command("compare")
def runs_compare(
    runs: list[Path] = typer.Argument(..., help="Run folders or experiment folders to compare."),
    csv: Path | None = typer.Option(None, "--csv", help="Write the comparison as CSV."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG bar chart of val mAP50-95."),
) -> None:
    """Compare chosen runs side by side (mean ± std over seeds of the same cell)."""
    _leaderboard(runs, csv, plot, "comparison")


def register(app: typer.Typer) -> None:
    """Add `train`, `experiment` and `runs` to the root app."""
    app.command("train")(train)
    app.add_typer(experiment_app, name="experiment")
    app.add_typer(runs_app, name="runs")
