"""Time `bonefrac data check` on a data set (default: $BONEFRAC_FRACATLAS or ../shared/data/fracatlas).

The target is under 60 s for FracAtlas (4,083 images) on a 2-core machine.

    PYTHONPATH=src python bench/bench_data_check.py [--data DATA.yaml] [--workers N ...] [--record]

Prints a table (one row per worker count; the first is the baseline the ratios refer to) and, with --record,
appends a dated, machine-labelled row per run to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

from _results import RESULTS, append_rows, machine_label

from bonefrac.data.checks import check_dataset
from bonefrac.data.parallel import default_workers
from bonefrac.data.yolo_format import load_dataset

REPO = Path(__file__).resolve().parents[1]
FRACATLAS = Path(os.environ.get("BONEFRAC_FRACATLAS", REPO.parent / "shared" / "data" / "fracatlas"))
DEFAULT_DATA = FRACATLAS / "data.yaml"
TARGET_S = 60.0
SECTION = "## Data check (`bench/bench_data_check.py`)"
TABLE_HEAD = (
    "| date (UTC) | benchmark | machine | data | images | setting | seconds | ratio | note |\n"
    "|---|---|---|---|---|---|---|---|---|\n"
)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, nargs="+", default=[default_workers()])
    parser.add_argument("--record", action="store_true", help=f"append rows to {RESULTS}")
    parser.add_argument("--note", default="", help="free text for the RESULTS row (e.g. what else ran)")
    args = parser.parse_args()
    spec = load_dataset(args.data)
    images = sum(len(v) for v in spec.splits.values())
    rows = []
    for workers in args.workers:
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        report = check_dataset(spec, workers=workers)
        seconds = time.perf_counter() - started
        rows.append((workers, seconds, load_before, len(report.findings)))
    baseline = rows[0][1]
    print(f"data check on {args.data} ({images} images), target < {TARGET_S:.0f} s")
    print(f"machine: {machine_label()}")
    print(f"{'workers':>7} {'seconds':>8} {'img/s':>7} {'ratio':>6} {'load':>5} {'findings':>8}  target")
    for workers, seconds, load, findings in rows:
        verdict = "met" if seconds < TARGET_S else "MISSED"
        print(
            f"{workers:>7} {seconds:>8.1f} {images / seconds:>7.0f} {seconds / baseline:>6.2f} "
            f"{load:>5.1f} {findings:>8}  {verdict}"
        )
    if args.record:
        date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
        lines = []
        for workers, seconds, load, _ in rows:
            note = f"load avg {load:.1f} at start; machine shared with other work. {args.note}".strip()
            cells = [
                date, f"data check (target < {TARGET_S:.0f} s)", machine_label(), args.data.parent.name,
                str(images), f"{workers} workers", f"{seconds:.1f}", f"{seconds / baseline:.2f}", note,
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        append_rows(SECTION, TABLE_HEAD, lines)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
