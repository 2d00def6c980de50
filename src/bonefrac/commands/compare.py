"""`bonefrac compare`: several evaluations side by side (table, CSV, plots)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def compare(
    inputs: list[Path] = typer.Argument(..., help="eval.json files, or run folders that hold one."),
    out: Path = typer.Option(Path("compare"), "--out", help="Folder for compare.csv and the plots."),
) -> None:
    """Compare several evaluations side by side (table, CSV, plots)."""
    from bonefrac.evaluate.compare import COMPARE_METRICS
    from bonefrac.evaluate.compare import compare as run_compare

    outcome = run_compare(inputs, out)
    table = Table(title=f"{len(outcome.rows)} evaluations (95% intervals in compare.csv)")
    table.add_column("name", overflow="fold")
    table.add_column("split")
    table.add_column("thr", justify="right")
    for column in COMPARE_METRICS:
        table.add_column(column.label, justify="right")
    for row in outcome.rows:
        thr = row.threshold
        values = [row.metrics[column.key].value for column in COMPARE_METRICS]
        table.add_row(
            row.name,
            row.split,
            f"{thr:.3f}",
            *(f"{v:.3f}" if v is not None else "n/a" for v in values),
        )
    console.print(table)
    console.print(f"wrote {outcome.csv_path}, " + ", ".join(str(p) for p in outcome.plots))


def register(app: typer.Typer) -> None:
    """Add `compare` to the root app."""
    app.command("compare")(compare)
