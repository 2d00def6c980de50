"""The shipped default model against the plain YOLO11n anchor, on the FracAtlas test split: one row per model.

    PYTHONPATH=src python bench/bench_default_model.py RUN_DIR --evals .data/ship [--record]

Reads what scripts/ship_default_model.sh wrote (eval-test: model.onnx at the card's operating point;
eval-test-int8; eval-test-pt: the source .pt with ultralytics' own val) and the training run folder. The
anchor row holds the numbers the issue gives (measured outside this project). --record appends the rows to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _results import RESULTS, append_rows, machine_label  # noqa: E402

from bonefrac.card.record import read_model_card  # noqa: E402
from bonefrac.card.references import load_reference_results  # noqa: E402
from bonefrac.card.text import fmt  # noqa: E402
from bonefrac.card.training import read_training_summary  # noqa: E402
from bonefrac.evaluate.eval_file import read_eval_report  # noqa: E402

SECTION = "## Default model vs the issue-8 anchor (`bench/bench_default_model.py`)"
INTRO = (
    "FracAtlas test split (423 images, 61 with a fracture, 67 boxes). `ultralytics` columns: ultralytics' "
    "own val on the .pt (the anchor's kind of numbers: precision/recall at its max-F1 confidence). "
    "`bonefrac` columns: `bonefrac evaluate` on the shipped ONNX, 95% bootstrap intervals; sensitivity and "
    "specificity are image-level at the card's operating point (chosen on de-duplicated val)."
)
TABLE_HEAD = (
    "| date (UTC) | model | trained where | budget | epochs | imgsz | ultralytics mAP50 / mAP50-95 / P / R "
    "| bonefrac mAP50 | bonefrac mAP50-95 | image AUROC | sensitivity / specificity | machine |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def anchor_row() -> str:
    a = load_reference_results().get("yolo11n_anchor").metrics
    return (
        f"| 2026-11 | anchor: plain ultralytics, yolo11n.yaml defaults, batch 32, all train images "
        f"| one H200 GPU | 7.25 min | 39 | 640 | {a.map50:.3f} / {a.map50_95:.3f} / {a.precision:.2f} / "
        f"{a.recall:.2f} | - | - | - | - | measured outside this project |"
    )


def model_rows(run_dir: Path, evals: Path) -> list[str]:
    training = read_training_summary(run_dir)
    ultra = read_eval_report(evals / "eval-test-pt" / "eval.json").box.ultralytics
    ultra_text = (
        f"{ultra.map50:.3f} / {ultra.map50_95:.3f} / {ultra.precision:.2f} / {ultra.recall:.2f}"
        if ultra is not None and ultra.error is None
        else "n/a"
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    where = f"CPU, {training.cpu_count} cores" if training.device == "cpu" else f"device {training.device}"
    recipe = (
        f"{training.config.get('cell')}: {training.train_positives} fracture + {training.train_backgrounds} "
        f"background images, {training.model}"
    )
    quantization = read_model_card(ROOT / "deploy" / "model" / "model_card.json").quantization or {}
    int8_label = (
        "int8 (measured, not shipped)" if quantization.get("shipped") is False else "int8 model.int8.onnx"
    )
    rows = []
    for label, folder in (("shipped fp32 model.onnx", "eval-test"), (int8_label, "eval-test-int8")):
        path = evals / folder / "eval.json"
        if not path.is_file():
            continue
        report = read_eval_report(path)
        image = report.image
        rows.append(
            f"| {now} | {label} ({recipe}) | {where} | {training.wall_hours:.2f} h "
            f"| {training.epochs_done} | {training.imgsz} | {ultra_text if folder == 'eval-test' else '-'} "
            f"| {fmt(report.box.map50)} | {fmt(report.box.map50_95)} | {fmt(image.auroc)} "
            f"| {fmt(image.sensitivity, 2)} / {fmt(image.specificity, 2)} | {machine_label()} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the training run folder")
    parser.add_argument("--evals", type=Path, default=ROOT / ".data" / "ship", help="ship script's WORK")
    parser.add_argument("--record", action="store_true", help=f"append the rows to {RESULTS}")
    parser.add_argument("--with-anchor", action="store_true", help="also append the anchor's row")
    args = parser.parse_args()
    rows = ([anchor_row()] if args.with_anchor else []) + model_rows(args.run_dir, args.evals)
    print(TABLE_HEAD + "\n".join(rows))
    if args.record:
        append_rows(SECTION, TABLE_HEAD, rows, INTRO)


if __name__ == "__main__":
    main()
