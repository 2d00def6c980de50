"""`bonefrac model-card`: the readable model card from the evaluations of the shipped files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()


def model_card(
    model_dir: Path = typer.Argument(..., help="Folder with model.onnx and model_card.json (from export)."),
    test_eval: Path = typer.Option(
        ..., "--test-eval", help="eval.json of the test split, evaluated with --rule card."
    ),
    val_eval: Path | None = typer.Option(
        None, "--val-eval", help="eval.json of the split the operating point was chosen on."
    ),
    int8_test_eval: Path | None = typer.Option(
        None, "--int8-test-eval", help="eval.json of model.int8.onnx on the test split."
    ),
    pt_test_eval: Path | None = typer.Option(
        None,
        "--pt-test-eval",
        help="eval.json of the source .pt on the test split (ultralytics' own figures).",
    ),
    run: Path | None = typer.Option(None, "--run", help="The training run folder (runs/<experiment>/<run>)."),
    classifier_run: Path | None = typer.Option(
        None, "--classifier-run", help="The classifier's run folder (runs/classifier/<run>), if one ships."
    ),
    name: str | None = typer.Option(None, "--name", help="Model name for the card."),
    version: str | None = typer.Option(None, "--version", help="Model version for the card."),
    int8_max_map50_drop: float = typer.Option(
        0.01, "--int8-max-map50-drop", min=0.0, help="Remove model.int8.onnx when its test mAP50 drops more."
    ),
    references: bool = typer.Option(
        False,
        "--references/--no-references",
        help="Compare with the reference results (anchor, published FracAtlas results) in MODEL_CARD.md.",
    ),
    references_file: Path | None = typer.Option(
        None,
        "--references-file",
        help="Another reference-results YAML instead of the one bonefrac ships (implies --references).",
    ),
) -> None:
    """Fold test results into model_card.json and write the readable MODEL_CARD.md beside it."""
    from bonefrac.card.publish import publish_model_card
    from bonefrac.card.references import load_reference_results

    published = publish_model_card(
        model_dir,
        test_eval,
        val_eval=val_eval,
        int8_test_eval=int8_test_eval,
        run_dir=run,
        classifier_run=classifier_run,
        name=name,
        version=version,
        references=(
            load_reference_results(references_file).references
            if references or references_file is not None
            else ()
        ),
        pt_test_eval=pt_test_eval,
        int8_max_map50_drop=int8_max_map50_drop,
    )
    console.print(f"wrote {published.card_path} and {published.markdown_path}")
    quantization = published.card.quantization or {}
    if int8_test_eval is not None and "shipped" in quantization:
        verdict = "kept" if quantization["shipped"] else "removed (it lost accuracy)"
        console.print(f"int8 model {verdict}: {quantization['decision']}")


def register(app: typer.Typer) -> None:
    """Add `model-card` to the root app."""
    app.command("model-card")(model_card)
