"""`bonefrac data ...`: check, report on, subset, re-split and synthesise YOLO data sets."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from bonefrac.data.checks import CheckOutcome
    from bonefrac.records import DataReport

app = typer.Typer(help="Inspect, check and reshape YOLO data sets.", no_args_is_help=True)
console = Console()
progress_console = Console(stderr=True)


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


@app.command("demo")
def demo(
    out: Path = typer.Option(
        Path(".data/demo"), "--out", help="Folder to (re)write; an ignored one, never a tracked folder."
    ),
    fracatlas: Path | None = typer.Option(
        None, "--fracatlas", help="FracAtlas in YOLO layout to pick test images from (must be there)."
    ),
    synthetic: bool = typer.Option(
        False, "--synthetic", help="Synthetic images even when FracAtlas is there."
    ),
) -> None:
    """Prepare demo radiographs for the UI: FracAtlas test images picked by rule when FracAtlas is found
    ($BONEFRAC_FRACATLAS or ../shared/data/fracatlas), else synthetic images; labels, README and demo.json."""
    from bonefrac.demo.prepare import prepare_demo

    prepared = prepare_demo(out, fracatlas=fracatlas, synthetic=synthetic)
    kind = "FracAtlas test images" if prepared.manifest.kind == "fracatlas" else "SYNTHETIC images"
    console.print(
        f"wrote {len(prepared.manifest.images)} {kind} to {out} ({prepared.reason})", highlight=False
    )


def _progress_callback(progress: Progress) -> Callable[[str, int, int], None]:
    """Turn the library's (stage, done, total) reports into rich progress bars, refreshed at most 10x/s."""
    tasks: dict[str, TaskID] = {}
    last_refresh = 0.0

    def report(stage: str, done: int, total: int) -> None:
        nonlocal last_refresh
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)
        now = time.monotonic()
        if now - last_refresh > 0.1 or done >= total:
            last_refresh = now
            progress.refresh()

    return report


def _run_checks_with_progress(data_yaml: Path, workers: int | None) -> CheckOutcome:
    from bonefrac.data.checks import run_checks
    from bonefrac.data.yolo_format import load_dataset

    spec = load_dataset(data_yaml)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # auto_refresh=False: no refresh thread, so worker processes fork from a single-threaded parent
    with Progress(*columns, console=progress_console, auto_refresh=False, transient=False) as progress:
        return run_checks(spec, workers=workers, on_progress=_progress_callback(progress))


def _print_split_table(report: DataReport) -> None:
    table = Table(title=f"{report.yaml_path} ({len(report.class_names)} classes)")
    for column in ("split", "images", "with boxes", "backgrounds", "boxes", "boxes per class"):
        table.add_column(column, justify="left" if column in ("split", "boxes per class") else "right")
    for name, stats in report.splits.items():
        per_class = ", ".join(f"{k} {v}" for k, v in stats.boxes_per_class.items())
        table.add_row(
            name,
            str(stats.images),
            str(stats.with_boxes),
            f"{stats.backgrounds} ({stats.background_share:.0%})",
            str(stats.boxes),
            per_class,
        )
    console.print(table)


def _print_findings(report: DataReport, limit: int) -> None:
    colours = {"error": "red", "warning": "yellow", "info": "cyan"}
    by_kind: dict[tuple[str, str], list] = {}
    for finding in report.findings:
        by_kind.setdefault((finding.severity, finding.kind), []).append(finding)
    for (severity, kind), findings in by_kind.items():
        console.print(f"[bold {colours[severity]}]{severity}[/] {kind}: {len(findings)}", highlight=False)
        for finding in findings[:limit]:
            files = ", ".join(finding.files[:4]) + (
                f" (+{len(finding.files) - 4})" if len(finding.files) > 4 else ""
            )
            console.print(f"    {files}: {finding.detail}", highlight=False, soft_wrap=True)
        if len(findings) > limit:
            console.print(f"    ... and {len(findings) - limit} more (see --json)")


@app.command("check")
def check(
    data_yaml: Path = typer.Argument(..., help="The data set's data.yaml."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the full report as JSON here."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too, not only on errors."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Processes to decode with (default: all cores)."
    ),
    limit: int = typer.Option(5, "--limit", min=0, help="Findings to list per kind (the JSON has all)."),
) -> None:
    """Find corrupt or truncated images, malformed or missing labels, duplicates and leaks between splits.

    Exit status: 0 clean or warnings only, 1 errors (with --strict, warnings too), 2 data set unreadable.
    """
    from bonefrac.data.checks import write_report_json

    report = _run_checks_with_progress(data_yaml, workers).report
    _print_split_table(report)
    _print_findings(report, limit)
    if json_path:
        write_report_json(report, json_path)
        console.print(f"report written to {json_path}")
    console.print(
        f"{report.count('error')} errors, {report.count('warning')} warnings, {report.count('info')} notes "
        f"in {report.seconds:.1f} s (fingerprint {report.fingerprint[:12]})"
    )
    if report.fails(strict):
        raise typer.Exit(1)


@app.command("subset")
def subset(
    data_yaml: Path = typer.Argument(..., help="The source data set's data.yaml."),
    out: Path = typer.Option(..., "--out", help="Empty folder for the subset (data.yaml, lists, labels)."),
    positive_only: bool = typer.Option(False, "--positive-only", help="Keep only images with boxes."),
    drop_class: list[str] = typer.Option(
        [], "--drop-class", help="Class name or id whose boxes are removed (repeatable)."
    ),
    merge_classes: str | None = typer.Option(
        None, "--merge-classes", help="Merge all remaining classes into one class of this name."
    ),
    drop_train_duplicates: bool = typer.Option(
        False, "--drop-train-duplicates", help="Drop val/test images that duplicate a train image."
    ),
    background_ratio: float | None = typer.Option(
        None, "--background-ratio", min=0.0, max=1.0, help="Share of background images to keep (0..1)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for --background-ratio's choice."),
    filter_split: list[str] = typer.Option(
        [], "--filter-split", help="Apply --positive-only/--background-ratio only to this split (repeatable)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a subset written before into --out."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes for duplicate search."),
) -> None:
    """Write a new data.yaml over the same images (symlinks, no copies) with filtered splits and labels."""
    import json

    from bonefrac.config import build_config
    from bonefrac.data.subsets import SubsetOptions, write_subset
    from bonefrac.data.yolo_format import load_dataset

    options = build_config(
        SubsetOptions,
        {
            "positive_only": positive_only,
            "drop_classes": tuple(drop_class),
            "merge_classes": merge_classes,
            "drop_duplicates_of_train": drop_train_duplicates,
            "background_ratio": background_ratio,
            "seed": seed,
            "filter_splits": tuple(filter_split) or None,
        },
        "command-line options",
    )
    yaml_path = write_subset(load_dataset(data_yaml), out, options, workers=workers, overwrite=overwrite)
    record = json.loads((yaml_path.parent / "subset.json").read_text())
    table = Table(title=f"{yaml_path} (classes: {', '.join(record['class_names'])})")
    columns = (
        "split",
        "source images",
        "images",
        "with boxes",
        "backgrounds",
        "boxes",
        "dropped bg",
        "dropped dup",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "split" else "right")
    for split, c in record["splits"].items():
        table.add_row(
            split,
            *(str(c[k]) for k in ("source_images", "images", "with_boxes", "backgrounds", "boxes")),
            str(c["dropped_backgrounds"]),
            str(c["dropped_duplicates"]),
        )
    console.print(table)


@app.command("split")
def split(
    data_yaml: Path = typer.Argument(..., help="The source data.yaml (all its splits are pooled)."),
    out: Path = typer.Option(..., "--out", help="Empty folder for data.yaml, the .txt lists and split.json."),
    val: float | None = typer.Option(
        None, "--val", help="Share of the images for val, 0 <= f < 1 (default 0.1; not with --folds)."
    ),
    test: float = typer.Option(0.1, "--test", help="Share held out for test, 0 <= f < 1; 0: no test split."),
    group_by: str = typer.Option(
        "near-duplicates", "--group-by", help="near-duplicates, regex (--pattern) or csv (--groups-csv)."
    ),
    pattern: str | None = typer.Option(
        None, "--pattern", help="Regex searched in each file name's stem; key: first capture group or match."
    ),
    groups_csv: Path | None = typer.Option(
        None, "--groups-csv", help="CSV with columns image (path below the root, or file name) and group."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for the order groups are placed in."),
    folds: int | None = typer.Option(
        None, "--folds", help="K >= 2 cross-validation folds (DIR/fold_<i>/data.yaml) instead of one val."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a split written before into --out."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes to decode with."),
) -> None:
    """Re-split a data set without leaks: whole groups (patients, augmented families, copies of one
    radiograph) go to one split, stratified by fracture presence and class. Images and labels stay put."""
    from bonefrac.config import build_config
    from bonefrac.data.splits import SplitOptions, check_options, split_dataset
    from bonefrac.data.yolo_format import load_dataset

    options = build_config(
        SplitOptions,
        {
            "val": val,
            "test": test,
            "group_by": group_by,
            "pattern": pattern,
            "groups_csv": groups_csv,
            "seed": seed,
            "folds": folds,
        },
        "command-line options",
    )
    check_options(options)  # before the progress bars start
    spec = load_dataset(data_yaml)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=progress_console, auto_refresh=False) as progress:
        result = split_dataset(
            spec, out, options, workers=workers, overwrite=overwrite, on_progress=_progress_callback(progress)
        )
    record = result.record
    table = Table(title=f"{result.out_dir} (classes: {', '.join(record['class_names'])})")
    for column in ("split", "groups", "images", "share", "positives", "boxes", "boxes per class"):
        table.add_column(column, justify="left" if column in ("split", "boxes per class") else "right")
    for name, c in record["splits"].items():
        table.add_row(
            name,
            str(c["groups"]),
            str(c["images"]),
            f"{c['image_share']:.1%}",
            f"{c['positives']} ({c['positive_share']:.1%})",
            str(c["boxes"]),
            ", ".join(f"{k} {v}" for k, v in c["boxes_per_class"].items()),
        )
    console.print(table)
    grouping = record["grouping"]
    unmatched = f", {grouping['unmatched_images']} images unmatched" if grouping["method"] == "regex" else ""
    console.print(
        f"{grouping['groups']} groups by {grouping['method']}{unmatched}; "
        f"{grouping['merged_by_copies']} formed by merging copies of one radiograph",
        highlight=False,
    )
    written = ", ".join(str(p) for p in result.yaml_paths)
    console.print(f"wrote {written} and {result.out_dir / 'split.json'}", highlight=False)


@app.command("report")
def report(
    data_yaml: Path = typer.Argument(..., help="The data set's data.yaml."),
    out: Path = typer.Option(..., "--out", help="Folder for report.html (self-contained) and report.json."),
    samples: int = typer.Option(12, "--samples", min=0, help="Sample images shown per split."),
    pairs: int = typer.Option(24, "--pairs", min=0, help="Near-duplicate pairs shown side by side."),
    seed: int = typer.Option(0, "--seed", help="Seed for the choice of sample images."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes to decode with."),
) -> None:
    """Write an HTML EDA report: class counts, backgrounds, box and image sizes, samples, near-duplicates."""
    from bonefrac.data.eda import write_html_report
    from bonefrac.data.yolo_format import load_dataset

    spec = load_dataset(data_yaml)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=progress_console, auto_refresh=False) as progress:
        path = write_html_report(
            spec,
            out,
            workers=workers,
            on_progress=_progress_callback(progress),
            samples_per_split=samples,
            max_pairs=pairs,
            seed=seed,
        )
    console.print(
        f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB) and {path.with_suffix('.json')}"
    )


def register(root: typer.Typer) -> None:
    """Add the `data` command group (with `data fetch`) to the root app."""
    from bonefrac.commands import fetch

    app.add_typer(fetch.app, name="fetch")
    root.add_typer(app, name="data")
