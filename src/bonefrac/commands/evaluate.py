"""`bonefrac evaluate` and `bonefrac compare`: clinical evaluation of a model and side-by-side comparison."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def evaluate(
    weights: Path = typer.Option(
        ..., "--weights", help="A .pt from training or an .onnx from `bonefrac export`."
    ),
    data: Path = typer.Option(..., "--data", help="data.yaml of the data set to evaluate on."),
    split: str = typer.Option("test", "--split", help="Split to evaluate (train, val or test)."),
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (default: <weights folder>/eval-<split>)."
    ),
    rule: str = typer.Option(
        "target-sensitivity",
        "--rule",
        help="Operating point: target-sensitivity, max-f1 (box F1), card (keep the card's), fixed.",
    ),
    target_sensitivity: float = typer.Option(
        0.9, "--target-sensitivity", help="Image-level sensitivity to reach."
    ),
    threshold: float | None = typer.Option(None, "--threshold", help="The threshold for --rule fixed."),
    bootstrap: int = typer.Option(
        1000, "--bootstrap", help="Bootstrap resamples for 95% intervals (0: none)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    metadata: Path | None = typer.Option(
        None, "--metadata", help="CSV with one row per image for a breakdown."
    ),
    metadata_column: str | None = typer.Option(
        None,
        "--metadata-column",
        help="COL, or NAME=COL1,COL2,... for one-hot columns (region=hand,leg,hip).",
    ),
    metadata_key: str | None = typer.Option(
        None, "--metadata-key", help="CSV column with the image file name (default: the first column)."
    ),
    conf_floor: float = typer.Option(0.001, "--conf-floor", help="Lowest confidence kept when predicting."),
    imgsz: int | None = typer.Option(
        None, "--imgsz", help="Inference size for .pt (default: its training size)."
    ),
    ultralytics_val: bool = typer.Option(
        True, "--ultralytics-val/--no-ultralytics-val", help="Also report ultralytics' own val figures (.pt)."
    ),
    card: bool = typer.Option(
        True, "--card/--no-card", help="Write the operating point into model_card.json."
    ),
    predictions: Path | None = typer.Option(
        None,
        "--predictions",
        help="Reuse a predictions.json from an earlier run instead of predicting again.",
    ),
) -> None:
    """Evaluate a detector: COCO mAP, image-level ROC, FROC, 95% intervals, operating point, HTML report."""
    from bonefrac.config import build_config
    from bonefrac.evaluate.runner import EvaluateOptions, run_evaluation

    values = dict(
        weights=weights,
        data=data,
        split=split,
        out=out,
        rule=rule,
        target_sensitivity=target_sensitivity,
        threshold=threshold,
        bootstrap=bootstrap,
        seed=seed,
        metadata=metadata,
        metadata_column=metadata_column,
        metadata_key=metadata_key,
        conf_floor=conf_floor,
        imgsz=imgsz,
        ultralytics_val=ultralytics_val,
        write_card=card,
        predictions=predictions,
    )
    options = build_config(EvaluateOptions, values, "bonefrac evaluate options")
    outcome = run_evaluation(options)
    result = outcome.result
    from bonefrac.evaluate.compare import format_cell

    table = Table(title=f"{weights.name} on {split} ({result['counts']['images']} images)")
    table.add_column("metric")
    table.add_column("value [95% CI]", justify="right")
    rows = [
        ("box mAP50", result["box"]["mAP50"]),
        ("box mAP50-95", result["box"]["mAP50_95"]),
        ("box precision", result["box"]["precision"]),
        ("box recall", result["box"]["recall"]),
        ("image AUROC", result["image"]["auroc"]),
        ("image sensitivity", result["image"]["sensitivity"]),
        ("image specificity", result["image"]["specificity"]),
        ("FROC score", result["froc"]["score"]),
    ]
    for label, entry in rows:
        table.add_row(label, format_cell(entry))
    ultra = result["box"].get("ultralytics")
    if ultra and "error" not in ultra:
        table.add_row("ultralytics mAP50 / mAP50-95", f"{ultra['mAP50']:.3f} / {ultra['mAP50_95']:.3f}")
    console.print(table)
    op = result["operating_point"]
    console.print(
        f"operating point: threshold {op['threshold']:.4f} ({op['rule']}, split {op['split']})"
        + (f" - {op['note']}" if op["note"] else "")
    )
    console.print(
        f"wrote {outcome.eval_json}"
        + (f", {outcome.report_html}" if outcome.report_html else "")
        + (f", {outcome.card_path}" if outcome.card_path else "")
    )


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
    for _, label in COMPARE_METRICS:
        table.add_column(label, justify="right")
    for row in outcome.rows:
        thr = row["threshold"]
        values = [(row["metrics"][key] or {}).get("value") for key, _ in COMPARE_METRICS]
        table.add_row(
            row["name"],
            str(row["split"]),
            f"{thr:.3f}" if thr is not None else "n/a",
            *(f"{v:.3f}" if v is not None else "n/a" for v in values),
        )
    console.print(table)
    console.print(f"wrote {outcome.csv_path}, " + ", ".join(str(p) for p in outcome.plots))


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
    name: str | None = typer.Option(None, "--name", help="Model name for the card."),
    version: str | None = typer.Option(None, "--version", help="Model version for the card."),
    int8_max_map50_drop: float = typer.Option(
        0.01, "--int8-max-map50-drop", min=0.0, help="Remove model.int8.onnx when its test mAP50 drops more."
    ),
    anchor: bool = typer.Option(
        False, "--anchor/--no-anchor", help="Compare with issue 8's FracAtlas anchor in MODEL_CARD.md."
    ),
) -> None:
    """Fold test results into model_card.json and write the readable MODEL_CARD.md beside it."""
    from bonefrac.model_card_doc import ISSUE8_ANCHOR, publish_model_card

    published = publish_model_card(
        model_dir,
        test_eval,
        val_eval=val_eval,
        int8_test_eval=int8_test_eval,
        run_dir=run,
        name=name,
        version=version,
        anchor=ISSUE8_ANCHOR if anchor else None,
        pt_test_eval=pt_test_eval,
        int8_max_map50_drop=int8_max_map50_drop,
    )
    console.print(f"wrote {published.card_path} and {published.markdown_path}")
    quantization = published.card.quantization or {}
    if "shipped" in quantization:
        verdict = "kept" if quantization["shipped"] else "removed (it lost accuracy)"
        console.print(f"int8 model {verdict}: {quantization['decision']}")


def register(app: typer.Typer) -> None:
    """Add `evaluate` and `compare` to the root app (one line in cli.py)."""
    app.command("evaluate")(evaluate)
    app.command("compare")(compare)
    app.command("model-card")(model_card)
