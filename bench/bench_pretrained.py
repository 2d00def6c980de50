"""Pretrained starts and the classifier: one row per training run, with the load it trained under.

    PYTHONPATH=src python bench/bench_pretrained.py \
        --detector runs/pretrained/coco_480_bg20-s0=.data/ship/eval-test/eval.json \
        --classifier runs/classifier/lite0-320-s0 --loadavg .data/logs/loadavg.log [--record]

A detector row needs the run folder and a `bonefrac evaluate` eval.json of its weights on the FracAtlas test
split (all-image and fractured-only mAP50, AUROC, FROC, box recall at the operating point; 95 % intervals). A
classifier row reads its run folder (test AUROC with its interval). `--loadavg` is a file of
"<ISO time> <1-min> <5-min> <15-min>" lines sampled while the runs trained; each row gets the mean 1-minute
load over its run (from config.yaml's to metrics.json's modification time, or results.csv's for a run cut
before its final evaluation), because training shares the 2 cores with everything else. --record appends
the rows to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _results import RESULTS, append_rows, machine_label  # noqa: E402

from bonefrac.card.text import fmt  # noqa: E402
from bonefrac.card.training import read_classifier_training, read_training_summary  # noqa: E402
from bonefrac.evaluate.eval_file import read_eval_report  # noqa: E402
from bonefrac.evaluate.record import EvalReport  # noqa: E402

SECTION = "## Pretrained starts (`bench/bench_pretrained.py`)"
INTRO = (
    "FracAtlas test split (423 images, 61 with a fracture). Detector rows: `bonefrac evaluate` on the run's "
    "weights (95% bootstrap intervals; box recall at the evaluation's operating point; image AUROC of the "
    "detector's highest box, and, for an evaluation with the classifier, of the fused image score with the "
    "high-sensitivity operating point chosen on val). Classifier rows: the "
    "classifier's own test AUROC. `load` is the mean 1-minute load average on the 2-core machine while the "
    "run trained (above 2: other jobs shared the cores, so wall time is not comparable between rows)."
)
TABLE_HEAD = (
    "| date (UTC) | run | start | imgsz | train images | epochs | wall h | load | mAP50 all "
    "| mAP50 fractured only | image AUROC | fused image AUROC | high sensitivity: sens / spec | FROC "
    "| box recall | machine |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def mean_load(log: Path | None, start: float, end: float) -> str:
    if log is None or not log.is_file():
        return "n/a"
    values = []
    for line in log.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        try:
            when = dt.datetime.fromisoformat(parts[0]).replace(tzinfo=dt.UTC).timestamp()
            load = float(parts[1])
        except ValueError:
            continue
        if start <= when <= end:
            values.append(load)
    return f"{sum(values) / len(values):.1f}" if values else "n/a"


def _window(run_dir: Path) -> tuple[float, float]:
    """From the run's start to its end: metrics.json, or the last finished epoch of a run cut before it."""
    end = run_dir / "metrics.json"
    if not end.is_file():
        end = run_dir / "results.csv"
    return (run_dir / "config.yaml").stat().st_mtime, end.stat().st_mtime


def detector_row(run_dir: Path, eval_json: Path, log: Path | None, machine: str) -> str:
    training = read_training_summary(run_dir)
    report = read_eval_report(eval_json)
    start = training.start or {}
    started = (
        f"{Path(str(start.get('path') or training.model)).name} (COCO)"
        if start.get("init") == "pretrained"
        else f"{training.model} (random)"
    )
    images = f"{training.train_positives} + {training.train_backgrounds} bg"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    return (
        f"| {now} | detector {run_dir.name} ({report.model.kind}) | {started} | {training.imgsz} "
        f"| {images} | "
        f"{training.epochs_done} | {training.wall_hours:.2f} | {mean_load(log, *_window(run_dir))} | "
        f"{fmt(report.box.map50)} | {fmt(report.box_fractured_only.map50)} | {fmt(report.image.auroc)} | "
        f"{_two_tier_cells(report)} | {fmt(report.froc.score)} | {fmt(report.box.recall)} | {machine} |"
    )


def _two_tier_cells(report: EvalReport) -> str:
    """Fused image AUROC and the high-sensitivity point's sensitivity / specificity, when evaluated."""
    tiers = report.two_tier
    if tiers is None:
        return "- | -"
    fused = fmt(tiers.auroc.fused) if tiers.auroc.fused is not None else "-"
    point = tiers.high_sensitivity
    return f"{fused} | {fmt(point.sensitivity)} / {fmt(point.specificity)}"


def classifier_row(run_dir: Path, log: Path | None, machine: str) -> str:
    training = read_classifier_training(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    test = metrics.get("test") or {}
    interval = test.get("auroc_ci95")
    auroc = f"{test['auroc']:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    return (
        f"| {now} | classifier {run_dir.name} (best epoch {training.best_epoch}, val AUROC "
        f"{training.val_auroc:.3f}) | ImageNet EfficientNet-Lite0 | {training.imgsz} | "
        f"{training.epoch_images} a epoch, balanced, of {training.train_images} | {training.epochs_done} | "
        f"{training.wall_hours:.2f} | {mean_load(log, *_window(run_dir))} | - | - | {auroc} | - | - | - | "
        f"- | {machine} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--detector", action="append", default=[], help="RUN_DIR=EVAL_JSON (repeatable)")
    parser.add_argument("--classifier", action="append", default=[], help="classifier RUN_DIR (repeatable)")
    parser.add_argument(
        "--loadavg", type=Path, default=None, help="load-average samples taken while training"
    )
    parser.add_argument("--record", action="store_true", help=f"append the rows to {RESULTS}")
    args = parser.parse_args()
    machine = machine_label()
    rows = []
    for pair in args.detector:
        run, _, eval_json = pair.partition("=")
        if not eval_json:
            parser.error(f"--detector wants RUN_DIR=EVAL_JSON, got {pair!r}")
        rows.append(detector_row(Path(run), Path(eval_json), args.loadavg, machine))
    rows += [classifier_row(Path(run), args.loadavg, machine) for run in args.classifier]
    print(TABLE_HEAD + "\n".join(rows))
    if args.record:
        append_rows(SECTION, TABLE_HEAD, rows, INTRO)
        print(f"recorded {len(rows)} rows in {RESULTS}")


if __name__ == "__main__":
    main()
