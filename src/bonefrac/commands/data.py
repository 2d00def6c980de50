"""`bonefrac data ...`: synthetic data (checks, reports and subsets join here)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Inspect, check and reshape YOLO data sets.", no_args_is_help=True)
console = Console()


@app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write images/, labels/ and data.yaml into."),
    images: int = typer.Option(
        30, "--images", min=3, help="Number of images over train/val/test (60/20/20)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same files."),
    size: int = typer.Option(128, "--size", help="Side of the square images in pixels."),
    background_share: float = typer.Option(
        0.3, "--background-share", help="Share of images with no fracture."
    ),
) -> None:
    """Write a synthetic radiograph-like YOLO data set (for tests and demos; not real patients)."""
    from bonefrac.data.synth import write_synthetic_dataset

    summary = write_synthetic_dataset(
        out, images=images, seed=seed, size=size, background_share=background_share
    )
    split_text = ", ".join(f"{k} {v}" for k, v in summary.images.items())
    console.print(
        f"wrote {summary.yaml_path} ({split_text}; {summary.boxes} boxes, {summary.backgrounds} backgrounds)"
    )
