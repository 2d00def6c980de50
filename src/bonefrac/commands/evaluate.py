"""`bonefrac evaluate` and `bonefrac compare`: clinical evaluation of a model and side-by-side comparison."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bonefrac.evaluate.record import TwoTierMetrics
from bonefrac.infer.engines import ENGINE_HELP

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
        "auto",
        "--rule",
        help="Operating point: auto (card when the card beside the weights holds a chosen point and "
        "--write-card is not given, else target-sensitivity), target-sensitivity, max-f1 (box F1), card "
        "(the card's), fixed. Choosing on the test split (target-sensitivity, max-f1, --two-tier) is refused "
        "without --force-test-choice.",
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
    write_card: bool = typer.Option(
        False,
        "--write-card/--no-card",
        help="Write the chosen operating point(s) into model_card.json beside the weights (default: the "
        "card is left as it is).",
    ),
    force_test_choice: bool = typer.Option(
        False,
        "--force-test-choice",
        help="Choose the operating point on the test split anyway; its numbers are then optimistic (warned).",
    ),
    predictions: Path | None = typer.Option(
        None,
        "--predictions",
        help="Reuse a predictions.json from an earlier run instead of predicting again.",
    ),
    classifier: Path | None = typer.Option(
        None,
        "--classifier",
        help="classifier.onnx (from `bonefrac classify export`) fused into the image score; with --rule card "
        "the card's own classifier is used.",
    ),
    two_tier: bool = typer.Option(
        False,
        "--two-tier/--no-two-tier",
        help="Choose high-sensitivity and high-specificity operating points on this split (into the card "
        "with --write-card; with --rule card the card's are measured, also without this flag).",
    ),
    target_specificity: float = typer.Option(
        0.9, "--target-specificity", help="Image-level specificity of the high-specificity tier."
    ),
    engine: str = typer.Option("onnxruntime", "--engine", help=f"For .onnx models. {ENGINE_HELP}"),
) -> None:
    """Evaluate a detector: COCO mAP, image-level ROC, FROC, 95% intervals, operating point, HTML report."""
    from bonefrac.config import build_config
    from bonefrac.evaluate.runner import EvaluateOptions, run_evaluation
    from bonefrac.infer.engines import check_engine

    check_engine(engine)

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
        write_card=write_card,
        force_test_choice=force_test_choice,
        predictions=predictions,
        classifier=classifier,
        two_tier=two_tier,
        target_specificity=target_specificity,
        engine=engine,
    )
    options = build_config(EvaluateOptions, values, "bonefrac evaluate options")
    outcome = run_evaluation(options)
    report = outcome.report
    from bonefrac.evaluate.compare import format_cell

    table = Table(title=f"{weights.name} on {split} ({report.counts.images} images)")
    table.add_column("metric")
    table.add_column("value [95% CI]", justify="right")
    fractured = report.box_fractured_only
    only = f"fractured only ({fractured.images} images)"
    rows = [
        ("box mAP50", report.box.map50),
        ("box mAP50-95", report.box.map50_95),
        ("box precision", report.box.precision),
        ("box recall", report.box.recall),
        (f"box mAP50, {only}", fractured.map50),
        (f"box mAP50-95, {only}", fractured.map50_95),
        (f"box precision, {only}", fractured.precision),
        ("image AUROC", report.image.auroc),
        ("image sensitivity", report.image.sensitivity),
        ("image specificity", report.image.specificity),
        ("FROC score", report.froc.score),
    ]
    for label, metric in rows:
        table.add_row(label, format_cell(metric))
    ultra = report.box.ultralytics
    if ultra is not None and ultra.map50 is not None and ultra.map50_95 is not None:
        table.add_row("ultralytics mAP50 / mAP50-95", f"{ultra.map50:.3f} / {ultra.map50_95:.3f}")
    console.print(table)
    op = report.operating_point
    console.print(
        f"operating point: threshold {op.threshold:.4f} ({op.rule}, split {op.split})"
        + (f" - {op.note}" if op.note else "")
    )
    if report.two_tier is not None:
        console.print(_two_tier_table(report.two_tier))
    if outcome.warning is not None:
        console.print(f"[bold red]{outcome.warning}[/]", highlight=False)
    if outcome.card_path is None and outcome.rule != "card":
        chosen = "the operating points were" if two_tier else "the operating point was"
        it = "them" if two_tier else "it"
        console.print(f"{chosen} not written into the card; pass --write-card to write {it}")
    console.print(
        f"wrote {outcome.eval_json}"
        + (f", {outcome.report_html}" if outcome.report_html else "")
        + (f", {outcome.card_path}" if outcome.card_path else "")
    )


def _two_tier_table(two_tier: TwoTierMetrics) -> Table:
    from bonefrac.evaluate.compare import format_cell

    score = (
        f"fused: {two_tier.classifier_weight:g} x classifier + {1 - two_tier.classifier_weight:g} x detector"
        if two_tier.image_score == "fused"
        else "detector's highest box"
    )
    table = Table(title=f"two operating points (chosen on {two_tier.chosen_on}; image score {score})")
    table.add_column("metric")
    table.add_column("value [95% CI]", justify="right")
    auroc = two_tier.auroc
    table.add_row("image AUROC, detector", format_cell(auroc.detector))
    if auroc.classifier is not None and auroc.fused is not None:
        table.add_row("image AUROC, classifier", format_cell(auroc.classifier))
        table.add_row("image AUROC, fused", format_cell(auroc.fused))
    for name, tier in (
        ("high sensitivity", two_tier.high_sensitivity),
        ("high specificity", two_tier.high_specificity),
    ):
        table.add_row(
            f"{name} ({tier.target}{'' if tier.reached else ', not reached'}): image threshold",
            f"{tier.image_threshold:.4f}",
        )
        table.add_row(f"{name}: image sensitivity", format_cell(tier.sensitivity))
        table.add_row(f"{name}: image specificity", format_cell(tier.specificity))
        table.add_row(f"{name}: box recall at {tier.box_threshold:.4f}", format_cell(tier.box_recall))
        table.add_row(f"{name}: box precision", format_cell(tier.box_precision))
    return table


def register(app: typer.Typer) -> None:
    """Add `evaluate` to the root app."""
    app.command("evaluate")(evaluate)
