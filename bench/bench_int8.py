"""int8 against fp32 on FracAtlas test: quantize a detector calibrated on train radiographs, evaluate both.

    PYTHONPATH=src python bench/bench_int8.py --data ../shared/data/fracatlas/data.yaml [--record]

The int8 copy is calibrated on `--calibration-count` FracAtlas *train* radiographs (evenly spread over the
split, prepared as the engine prepares a request), with the head's decode, class sigmoid and last learned
convolutions in float (`bonefrac.export.quantize`), and, with `--mixed`, the modules whose rounding alone
moves the highest score of 40 *val* radiographs most (`quantize_mixed_int8`, what `bonefrac quantize`
does). Both models are evaluated on the test split with
`bonefrac evaluate` at the card's threshold (no bootstrap); int8 keeps its accuracy when its box mAP50 and
its image AUROC (the detector's highest box as the image score) are both within `--tolerance` of fp32's.
The int8 file stays in `--out` (an ignored folder); copy it beside the model only when it keeps accuracy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from _results import append_rows, machine_label  # noqa: E402

SECTION = "## int8 against fp32 on FracAtlas test (`bench/bench_int8.py`)"
HEAD = (
    "| date | machine | model | calibration | test mAP50 fp32 / int8 | image AUROC fp32 / int8 | "
    "kept accuracy (within 0.01) | seconds |\n|---|---|---|---|---|---|---|---|\n"
)


def evaluate(model: Path, data: Path, threshold: float, out: Path) -> dict:
    """`bonefrac evaluate` on the test split at a fixed threshold; the eval.json it writes."""
    command = [sys.executable, "-m", "bonefrac", "evaluate", "--weights", str(model), "--data", str(data)]
    command += ["--split", "test", "--rule", "fixed", "--threshold", f"{threshold}", "--bootstrap", "0"]
    command += ["--no-card", "--out", str(out)]
    subprocess.run(command, check=True, env={"PYTHONPATH": str(REPO / "src"), **_env()})
    return json.loads((out / "eval.json").read_text())


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "deploy" / "model" / "model.onnx")
    parser.add_argument("--data", type=Path, required=True, help="FracAtlas data.yaml (train, test)")
    parser.add_argument("--calibration-count", type=int, default=64)
    parser.add_argument("--method", default="minmax", help="minmax, percentile or entropy")
    parser.add_argument("--whole-head", action="store_true", help="keep the whole detect head in float")
    parser.add_argument("--mixed", action="store_true", help="keep the most sensitive modules in float")
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=REPO / ".data" / "int8")
    parser.add_argument("--record", action="store_true", help="append a row to bench/RESULTS.md")
    args = parser.parse_args()

    from bonefrac.export.quantize import quantize_int8, quantize_mixed_int8
    from bonefrac.export.samples import load_samples
    from bonefrac.infer.predictor import Predictor

    started = time.perf_counter()
    fp32 = Predictor(args.model)
    threshold = fp32.default_conf
    calibration = [image for _, image in load_samples(args.data, split="train", count=args.calibration_count)]
    tag = (
        f"{args.method}-{len(calibration)}"
        + ("-head" if args.whole_head else "")
        + ("-mixed" if args.mixed else "")
    )
    out = args.out / tag
    out.mkdir(parents=True, exist_ok=True)
    kept_float = ""
    if args.mixed:
        probes = [image for _, image in load_samples(args.data, split="val", count=40)]
        mixed = quantize_mixed_int8(args.model, out / "model.int8.onnx", calibration, probes, fp32.input_size)
        int8_path, kept_float = mixed.path, ", modules " + ", ".join(mixed.float_modules) + " in float"
    else:
        int8_path = quantize_int8(
            args.model,
            out / "model.int8.onnx",
            calibration,
            fp32.input_size,
            method=args.method,
            whole_head=args.whole_head,
        )
    fp32_eval = evaluate(args.model, args.data, threshold, args.out / "eval-fp32-fixed")
    int8_eval = evaluate(int8_path, args.data, threshold, out / "eval-int8")
    metrics = {
        name: (float(fp32_eval[part][key]["value"]), float(int8_eval[part][key]["value"]))
        for name, part, key in (("map50", "box", "map50"), ("auroc", "image", "auroc"))
    }
    kept = all(a - b <= args.tolerance for a, b in metrics.values())
    seconds = time.perf_counter() - started
    summary = {
        "calibration": f"{len(calibration)} FracAtlas train radiographs, {args.method}"
        + (", whole detect head in float" if args.whole_head else "")
        + kept_float,
        "threshold": threshold,
        "map50": metrics["map50"],
        "image_auroc": metrics["auroc"],
        "kept_accuracy": kept,
        "int8_file": str(int8_path),
    }
    print(json.dumps(summary, indent=2))
    if args.record:
        (fm, im), (fa, ia) = metrics["map50"], metrics["auroc"]
        row = (
            f"| {date.today()} | {machine_label()} | {args.model.name} | "
            f"{summary['calibration']} | {fm:.3f} / {im:.3f} | "
            f"{fa:.3f} / {ia:.3f} | {'yes' if kept else 'no'} | "
            f"{seconds:.0f} |"
        )
        append_rows(SECTION, HEAD, [row])


if __name__ == "__main__":
    main()
