"""`bonefrac classify train|export`: the image-level fracture classifier."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()

app = typer.Typer(
    help="Train and export the image-level fracture classifier (EfficientNet-Lite0 from ImageNet weights).",
    no_args_is_help=True,
)


@app.command("train")
def train(
    config: Path = typer.Argument(
        ...,
        help="Classifier config YAML (e.g. configs/classify/fracatlas_lite0.yaml; keys: docs/classify.md).",
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a config key, e.g. --set epochs=5 (repeatable)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete the run folder first if it exists."),
) -> None:
    """Fine-tune the classifier on a YOLO data set's image labels; writes runs/<experiment>/<name>/."""
    from bonefrac.classify.config import load_classifier_config
    from bonefrac.train.runner import prefer_passive_openmp

    prefer_passive_openmp()  # before torch is imported: idle OpenMP threads sleep on a shared CPU
    from bonefrac.classify.trainer import train_classifier

    result = train_classifier(load_classifier_config(config, set_), overwrite=overwrite)
    test = "n/a" if result.test_auroc is None else f"{result.test_auroc:.3f}"
    if result.test_auroc_ci95 is not None:
        test += f" [{result.test_auroc_ci95[0]:.3f}, {result.test_auroc_ci95[1]:.3f}]"
    console.print(
        f"{result.run_dir}: best epoch {result.best_epoch} of {result.epochs_completed}, "
        f"val AUROC {result.val_auroc:.3f}, test AUROC {test}, {result.train_wall_time_s / 60:.1f} min"
    )
    console.print(f"weights: {result.best_weights}")


@app.command("export")
def export(
    weights: Path = typer.Argument(
        ..., help="Classifier checkpoint (runs/classifier/<run>/weights/best.pt)."
    ),
    out: Path = typer.Option(
        Path("artifacts/model"), "--out", help="Folder for classifier.onnx + classifier_card.json."
    ),
    parity_data: Path | None = typer.Option(
        None,
        "--parity-data",
        help="data.yaml or folder of images for the parity check (default: 8 synthetic images).",
    ),
    parity_split: str = typer.Option("val", "--parity-split", help="Split of --parity-data's data.yaml."),
    parity_count: int = typer.Option(8, "--parity-count", min=1, help="Images used for the parity check."),
) -> None:
    """Export a classifier to ONNX; the torch-free engine must give the checkpoint's probabilities."""
    from bonefrac.classify.export import export_classifier
    from bonefrac.export.samples import load_samples

    samples = load_samples(parity_data, split=parity_split, count=parity_count)
    result = export_classifier(weights, out, samples)
    console.print(f"wrote {result.onnx_path} and {result.card_path}")
    console.print(
        f"parity with the torch checkpoint: passed, probabilities within "
        f"{result.parity.max_abs_difference:.1e} on {result.parity.images} images "
        "(OpenCV and numpy letterbox)"
    )


def register(root: typer.Typer) -> None:
    """Add the `classify` command group to the root app."""
    root.add_typer(app, name="classify")
