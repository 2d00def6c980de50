"""Engine speed targets, measured in one process and recorded in bench/RESULTS.md.

    PYTHONPATH=src python bench/bench_infer.py [--weights best.pt] [--repeats 30] [--record]

Targets, at input 640 with 2 threads on the same image:
  end-to-end Predictor.predict / bare session.run   <= 1.15
  ultralytics .pt predict / Predictor.predict       >= 1.3
Without --weights the model is YOLO11n built from yolo11n.yaml with random weights (speed does not depend on
the weights). The image is a synthetic 1280x1024 radiograph. --record appends a dated, machine-labelled row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _results import RESULTS, append_rows, machine_label  # noqa: E402

from bonefrac.export.benchmark import BenchRow, run_bench  # noqa: E402

SECTION = "## Inference engine (`bench/bench_infer.py`)"
INTRO = (
    "Rows appended by `bench/bench_infer.py --record`. Times are medians in ms per image (synthetic\n"
    "1280x1024 radiograph), measured interleaved in one process. `ratio` = engine end-to-end / bare\n"
    "session.run (target <= 1.15 at 640, 2 threads); `vs .pt` = ultralytics .pt predict time / engine time\n"
    "(target >= 1.3). Model: YOLO11n from yolo11n.yaml with random weights unless noted. Machines were\n"
    "shared with other work unless noted, so absolute times are noisy; ratios come from interleaved runs."
)
TABLE_HEAD = (
    "| date (UTC) | machine | model | letterbox | imgsz | threads | session.run ms | engine ms | ratio "
    "| .pt ms | vs .pt | targets |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)
MAX_RATIO = 1.15
MIN_SPEEDUP = 1.3


def verdict(row: BenchRow) -> str:
    if (row.imgsz, row.threads) != (640, 2):
        return ""
    ratio = f"ratio {'met' if row.overhead_ratio <= MAX_RATIO else 'MISSED'}"
    if row.speedup_vs_pt is None:
        return f"{ratio}, vs .pt not timed in this row"
    return f"{ratio}, vs .pt {'met' if row.speedup_vs_pt >= MIN_SPEEDUP else 'MISSED'}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--imgsz", type=int, nargs="+", default=[320, 640])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--numpy-preprocess", action="store_true", help="also time the numpy letterbox")
    parser.add_argument("--record", action="store_true", help="append rows to bench/RESULTS.md")
    parser.add_argument("--note", default="shared with other helpers' work", help="machine load note")
    args = parser.parse_args()
    modes = ("opencv", "numpy") if args.numpy_preprocess else ("opencv",)
    rows, model_note = run_bench(args.weights, args.imgsz, args.threads, args.repeats, preprocess=modes)
    machine = f"{machine_label()}; {args.note}"
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    model = "yolo11n random" if args.weights is None else str(args.weights)
    lines = []
    print(f"{model_note}\n{machine}")
    print(
        f"{'letterbox':>9} {'imgsz':>5} {'thr':>3} {'run ms':>8} {'engine ms':>9} {'ratio':>6} "
        f"{'.pt ms':>8} {'vs .pt':>7} {'img/s':>6}"
    )
    for r in rows:
        pt = "-" if r.pt_ms is None else f"{r.pt_ms:.1f}"
        speed = "-" if r.speedup_vs_pt is None else f"{r.speedup_vs_pt:.2f}x"
        print(
            f"{r.preprocess:>9} {r.imgsz:>5} {r.threads:>3} {r.bare_ms:>8.1f} {r.engine_ms:>9.1f} "
            f"{r.overhead_ratio:>6.3f} {pt:>8} {speed:>7} {r.engine_images_per_s:>6.1f}  {verdict(r)}"
        )
        lines.append(
            f"| {when} | {machine} | {model} | {r.preprocess} | {r.imgsz} | {r.threads} | {r.bare_ms:.1f} | "
            f"{r.engine_ms:.1f} | {r.overhead_ratio:.3f} | {pt} | {speed} | {verdict(r)} |\n"
        )
    if args.record:
        append_rows(SECTION, TABLE_HEAD, lines, intro=INTRO)
        print(f"appended {len(lines)} rows to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
