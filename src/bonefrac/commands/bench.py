"""`bonefrac bench`: latency and throughput of the ONNX engine against ultralytics `.pt`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def bench(
    weights: Path | None = typer.Option(
        None, "--weights", help="YOLO .pt to time (default: YOLO11n from yolo11n.yaml, random weights)."
    ),
    sizes: list[int] = typer.Option([320, 640], "--imgsz", help="Input sizes (repeat the option)."),
    threads: list[int] = typer.Option([1, 2], "--threads", help="Thread counts (repeat the option)."),
    repeats: int = typer.Option(20, "--repeats", min=3, help="Timed runs per measurement."),
    pt: bool = typer.Option(True, "--pt/--no-pt", help="Also time ultralytics .pt predict."),
    numpy_preprocess: bool = typer.Option(
        False, "--numpy-preprocess", help="Add rows with the numpy letterbox (as without OpenCV)."
    ),
) -> None:
    """Latency and throughput: the ONNX engine vs ultralytics .pt, per input size and thread count."""
    from bonefrac.export.benchmark import run_bench

    modes = ("opencv", "numpy") if numpy_preprocess else ("opencv",)
    rows, note = run_bench(weights, sizes, threads, repeats, with_pt=pt, preprocess=modes)
    console.print(bench_table(rows, note))


def bench_table(rows: list, note: str) -> Table:  # list[BenchRow]; typed loosely to keep imports lazy
    table = Table(title=f"bonefrac bench ({note})")
    for name in (
        "imgsz",
        "threads",
        "letterbox",
        "session.run ms",
        "engine ms",
        "engine/run",
        "ultralytics .pt ms",
        "engine speedup",
        "engine img/s",
    ):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(
            str(r.imgsz),
            str(r.threads),
            r.preprocess,
            f"{r.bare_ms:.1f}",
            f"{r.engine_ms:.1f}",
            f"{r.overhead_ratio:.3f}",
            "-" if r.pt_ms is None else f"{r.pt_ms:.1f}",
            "-" if r.speedup_vs_pt is None else f"{r.speedup_vs_pt:.2f}x",
            f"{r.engine_images_per_s:.1f}",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add `bench` to the root app."""
    app.command("bench")(bench)
