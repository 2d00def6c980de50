"""`bonefrac predict`: fracture calls and boxes for many images, as annotated PNGs, JSONs and a CSV."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from bonefrac.errors import ConfigError
from bonefrac.infer.engines import ENGINE_HELP

if TYPE_CHECKING:
    from bonefrac.dicom_out.write import DicomOutput
    from bonefrac.infer.batch import FileOutcome

console = Console()
err_console = Console(stderr=True)


def predict(
    paths: list[str] = typer.Argument(
        ...,
        help="Image files, folders (searched recursively) or glob patterns; with --cluster also "
        "s3://BUCKET/PREFIX of an S3-compatible object store (AWS_ENDPOINT_URL, AWS_* credentials).",
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
    threads: int | None = typer.Option(None, "--threads", min=1, help="Runtime threads per inference."),
    engine: str = typer.Option(
        "onnxruntime",
        "--engine",
        envvar="BONEFRAC_ENGINE",
        help=ENGINE_HELP,
    ),
    images: bool = typer.Option(True, "--images/--no-images", help="Write annotated PNGs."),
    dicom_out: Path | None = typer.Option(
        None,
        "--dicom-out",
        help="For each DICOM input, write a DICOM structured report (TID 1500) and an annotated secondary "
        "capture here, filed into the input's study (needs the dicom extra).",
    ),
    dicom_capture: bool = typer.Option(
        True, "--dicom-capture/--no-dicom-capture", help="With --dicom-out: also the annotated capture."
    ),
    cluster: str | None = typer.Option(
        None,
        "--cluster",
        help="Run on Ray: 'ray' starts a local Ray cluster, 'ray://HOST:PORT' joins one; results as Parquet "
        "in OUT/results, resumable; takes s3:// sources (needs the ray extra).",
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="With --cluster: actors, one analyser each."),
) -> None:
    """Detect fractures in many images: per image a call, fracture probability and boxes with tiers.

    Per image: a call at two operating points, the classifier's fracture probability (when the card names a
    classifier) and each box's tier. Exit code 0 when every file worked, 1 when any file failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from bonefrac.errors import BonefracError
    from bonefrac.infer.analysis import FractureAnalyser
    from bonefrac.infer.batch import SUMMARY_FILENAME, collect_inputs, predict_files
    from bonefrac.infer.engines import check_engine
    from bonefrac.infer.object_store import is_object_uri
    from bonefrac.infer.tiers import CALLS, describe_points
    from bonefrac.paths import choose_model

    check_engine(engine)
    chosen = choose_model(weights)
    if cluster is not None:
        if dicom_out is not None:
            raise ConfigError("--dicom-out is not available with --cluster; run it without --cluster")
        _predict_on_cluster(paths, chosen.path, out, cluster, workers, threads, engine, conf, iou, images)
        return
    objects = [p for p in paths if is_object_uri(p)]
    if objects:
        raise ConfigError(
            f"{objects[0]}: object-store sources need --cluster ray (a local Ray cluster) or "
            "--cluster ray://HOST:PORT; the plain command reads local files only"
        )
    items = collect_inputs(paths)
    dicom_output = None if dicom_out is None else _dicom_output(dicom_out, dicom_capture)
    analyser = FractureAnalyser.from_model(chosen.path, threads=threads, engine=engine)
    console.print(f"model file: {chosen.describe()}", highlight=False)
    card, classifier = analyser.card, analyser.classifier
    console.print(
        f"model {card.name} {card.version}, sha256 {analyser.detector.sha256}, engine {engine}"
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
            dicom_out=dicom_output,
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
    if dicom_out is not None:
        filed = sum(bool(o.dicom_paths) for o in outcomes)
        not_dicom = sum(o.ok and o.result is not None and o.result.image.format != "dicom" for o in outcomes)
        console.print(
            f"DICOM results for {filed} DICOM image(s) in {dicom_out}"
            + (
                f"; {not_dicom} input(s) not DICOM have no study to file into and got none"
                if not_dicom
                else ""
            ),
            highlight=False,
        )
    for outcome in failed:
        err_console.print(f"[red]failed[/] {outcome.path}: {outcome.error}", highlight=False)
    if failed:
        # a BonefracError, so cli.main exits 1 (typer.Exit codes are lost under standalone_mode=False)
        raise BonefracError(f"{len(failed)} of {len(outcomes)} files could not be used (listed above)")


def _predict_on_cluster(
    paths: list[str],
    model_path: Path,
    out: Path,
    cluster: str,
    workers: int,
    threads: int | None,
    engine: str,
    conf: float | None,
    iou: float,
    images: bool,
) -> None:
    """`predict --cluster`: the inputs on Ray, results in OUT/results/*.parquet; exit 1 when a file failed."""
    from bonefrac.errors import BonefracError
    from bonefrac.infer.object_store import ObjectInput
    from bonefrac.infer.ray_batch import (
        RESULTS_FOLDER,
        RayJob,
        collect_sources,
        parse_cluster,
        predict_on_ray,
    )

    parse_cluster(cluster)  # a bad address is refused before anything starts
    job = RayJob(
        model_path=model_path,
        out=out,
        cluster=cluster,
        workers=workers,
        threads=threads or 1,
        engine=engine,
        conf=conf,
        iou=iou,
        save_images=images,
    )
    items = collect_sources(paths, job.object_store)
    where = "a local Ray cluster" if cluster == "ray" else cluster
    objects = sum(isinstance(item, ObjectInput) for item in items)
    console.print(
        f"model file: {model_path}; {len(items)} image(s) on {where}, {workers} worker(s), engine {engine}"
        + (f"; {objects} of them objects at {job.object_store.describe()}" if objects else ""),
        highlight=False,
    )
    run = predict_on_ray(items, job)
    console.print(
        f"{run.done} image(s) analysed now, {run.skipped} already in {out / RESULTS_FOLDER} skipped, "
        f"{len(run.failed)} failed; {run.images_per_s:.2f} images/s over {run.seconds:.1f} s "
        f"(cluster start {run.startup_s:.1f} s)",
        highlight=False,
    )
    for file_name, reason in run.failed:
        err_console.print(f"[red]failed[/] {file_name}: {reason}", highlight=False)
    if run.failed:
        raise BonefracError(f"{len(run.failed)} of {run.done} files could not be used (listed above)")


def _dicom_output(folder: Path, capture: bool) -> DicomOutput:
    """The DICOM results writer, or a ConfigError naming the extra to install."""
    try:
        from bonefrac.dicom_out.write import DicomOutput
    except ImportError as exc:
        raise ConfigError(
            f"--dicom-out needs highdicom ({exc.name} is not installed); install it with "
            "pip install 'bonefrac[dicom]'"
        ) from exc
    return DicomOutput(folder, capture=capture)


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


def register(app: typer.Typer) -> None:
    """Add `predict` to the root app."""
    app.command("predict")(predict)
