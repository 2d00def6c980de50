"""`bonefrac export`, `bonefrac predict` and `bonefrac bench`: ONNX export, batch prediction, speed table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from bonefrac.infer.batch import FileOutcome

console = Console()
err_console = Console(stderr=True)


def export(
    weights: Path = typer.Option(..., "--weights", help="YOLO .pt checkpoint (e.g. runs/.../best.pt)."),
    imgsz: int = typer.Option(640, "--imgsz", help="Square input size of the ONNX model (multiple of 32)."),
    out: Path = typer.Option(
        Path("artifacts/model"), "--out", help="Folder for model.onnx + model_card.json."
    ),
    int8: bool = typer.Option(
        False, "--int8", help="Also write model.int8.onnx (static QDQ) and measure it."
    ),
    parity_data: Path | None = typer.Option(
        None,
        "--parity-data",
        help="data.yaml or folder of images for the parity check (default: 8 synthetic images).",
    ),
    parity_split: str = typer.Option("val", "--parity-split", help="Split of --parity-data's data.yaml."),
    parity_count: int = typer.Option(8, "--parity-count", min=1, help="Images used for the parity check."),
) -> None:
    """Export weights to ONNX, check the engine finds the same boxes as ultralytics, write the model card."""
    from bonefrac.export.onnx import export_onnx

    result = export_onnx(
        weights,
        out,
        imgsz=imgsz,
        int8=int8,
        parity_images=parity_data,
        parity_split=parity_split,
        parity_count=parity_count,
    )
    parity = result.parity.summary()
    console.print(f"wrote {result.onnx_path} and {result.card_path}")
    console.print(
        f"parity with ultralytics .pt: passed. Inputs within {parity['max_input_diff']:.4f}, raw scores "
        f"within {parity['max_score_diff']:.1e}, raw boxes within {parity['max_box_diff_px']:.4f} px; "
        f"{parity['matched_boxes']} boxes matched over {parity['images']} image runs (OpenCV and numpy "
        f"letterbox; min IoU {parity['min_matched_iou']}, max confidence delta {parity['max_conf_delta']})"
    )
    if parity.get("box_check_excused_images"):
        console.print(
            f"[yellow]note:[/] box differences excused on {int(parity['box_check_excused_images'])} "
            "images: the model's scores are near-constant (barely trained), so NMS ties are float noise"
        )
    if result.int8_path is not None and result.card.quantization:
        q = result.card.quantization
        low = q["agreement"][-1]
        console.print(
            f"wrote {result.int8_path}: {q['speedup']}x session speed vs fp32 at {q['threads']} threads; "
            f"box agreement with fp32 {low['box_agreement']} at conf {low['conf']} "
            f"(mean confidence change {low['mean_conf_delta']})"
        )


def predict(
    paths: list[str] = typer.Argument(
        ..., help="Image files, folders (searched recursively) or glob patterns."
    ),
    weights: Path | None = typer.Option(
        None,
        "--model",
        "--weights",
        help="ONNX model, model_card.json beside it (default: $BONEFRAC_MODEL_PATH, else the shipped model).",
    ),
    out: Path = typer.Option(Path("predictions"), "--out", help="Folder for PNGs, JSONs and summary.csv."),
    conf: float | None = typer.Option(
        None,
        "--conf",
        min=0.0,
        max=1.0,
        help="Lowest box confidence, shown on images of any call (default: the card's operating points).",
    ),
    iou: float = typer.Option(0.7, "--iou", min=0.0, max=1.0, help="NMS IoU threshold."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="onnxruntime intra-op threads."),
    images: bool = typer.Option(True, "--images/--no-images", help="Write annotated PNGs."),
) -> None:
    """Detect fractures in many images: per image a call at two operating points, the classifier's fracture
    probability (when the card names a classifier) and each box's tier. Exit code 0 when every file worked,
    1 when any file failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from bonefrac.errors import BonefracError
    from bonefrac.infer.analysis import FractureAnalyser
    from bonefrac.infer.batch import SUMMARY_FILENAME, collect_inputs, predict_files
    from bonefrac.infer.tiers import CALLS, describe_points
    from bonefrac.paths import choose_model

    chosen = choose_model(weights)
    items = collect_inputs(paths)
    analyser = FractureAnalyser.from_model(chosen.path, threads=threads)
    console.print(f"model file: {chosen.describe()}", highlight=False)
    card, classifier = analyser.card, analyser.classifier
    console.print(
        f"model {card.name} {card.version}, sha256 {analyser.detector.sha256}"
        + (" [bold red](STAND-IN: trained on synthetic images)[/]" if card.stand_in else ""),
        highlight=False,
    )
    console.print(
        "classifier: none (the detector alone)"
        if classifier is None
        else f"classifier {classifier.card.name} {classifier.card.version}, sha256 {classifier.sha256}",
        highlight=False,
    )
    for line in describe_points(analyser.points, analyser.tiered):
        console.print(f"  {line}", highlight=False)
    if conf is not None:
        console.print(f"  boxes down to confidence {conf:g} (--conf), on images of any call", highlight=False)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task("predicting", total=len(items))
        outcomes = predict_files(
            items,
            analyser,
            out,
            conf=conf,
            iou=iou,
            save_images=images,
            on_done=lambda _: progress.advance(task),
        )
    for outcome in outcomes:
        if outcome.result is not None:
            console.print(outcome_line(outcome), highlight=False)
    failed = [o for o in outcomes if not o.ok]
    positive = sum(o.positive for o in outcomes)
    calls = Counter(o.result.image.call for o in outcomes if o.result is not None)
    console.print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} images done, {positive} with detections "
        f"({', '.join(f'{calls[c]} {c}' for c in CALLS)}); results in {out} ({SUMMARY_FILENAME})",
        highlight=False,
    )
    for outcome in failed:
        err_console.print(f"[red]failed[/] {outcome.path}: {outcome.error}", highlight=False)
    if failed:
        # a BonefracError, so cli.main exits 1 (typer.Exit codes are lost under standalone_mode=False)
        raise BonefracError(f"{len(failed)} of {len(outcomes)} files could not be used (listed above)")


def outcome_line(outcome: FileOutcome) -> str:
    """One image in one line: call, score, probability, then each box's confidence and tier."""
    result = outcome.result
    if result is None:
        return f"{outcome.path}: failed ({outcome.error})"
    image = result.image
    probability = "-" if image.fracture_probability is None else f"{image.fracture_probability:.3f}"
    boxes = ", ".join(f"{d.confidence:.3f} {d.tier}" for d in result.detections) or "none"
    return (
        f"{outcome.path}: {image.call}, score {image.score:.3f}, fracture probability {probability}; "
        f"boxes: {boxes}"
    )


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
    """Add export, predict and bench to the root app (one line in cli.py)."""
    app.command("export")(export)
    app.command("predict")(predict)
    app.command("bench")(bench)
