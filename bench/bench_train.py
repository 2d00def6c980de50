"""CPU training speed: bonefrac's runner against plain ultralytics defaults, in the same process.

Measures training wall time (the `model.train()` call: epochs plus ultralytics' own validation) per training
image per epoch, on synthetic radiographs, at imgsz 320 and 640, one epoch each. Target: the runner at least
1.7x faster on a 2-core machine.

    PYTHONPATH=src python bench/bench_train.py [--images 32] [--sizes 320 640] [--append]

--append adds a dated, machine-labelled row per size to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _results import RESULTS, append_rows, machine_label

SECTION = "## Training speed (`bench/bench_train.py`)"
TABLE_HEAD = "| date | machine | benchmark | result | notes |\n|---|---|---|---|---|\n"


def plain_ultralytics(data_yaml: Path, imgsz: int, project: Path, **extra: object) -> float:
    """Seconds of `YOLO("yolo11n.yaml").train(...)` with ultralytics' defaults (data/imgsz/epochs/cpu set)."""
    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    started = time.perf_counter()
    model.train(data=str(data_yaml), imgsz=imgsz, epochs=1, device="cpu", project=str(project), **extra)
    return time.perf_counter() - started


def bonefrac_runner(data_yaml: Path, imgsz: int, runs_dir: Path) -> float:
    """Seconds of the runner's `model.train()` call (status.json), with the runner's defaults."""
    from bonefrac.train.config import build_train_config
    from bonefrac.train.runner import train_model

    config = build_train_config(
        {
            "data": str(data_yaml),
            "imgsz": imgsz,
            "epochs": 1,
            "runs_dir": str(runs_dir),
            "experiment": "bench",
        },
        "bench",
    )
    result = train_model(config)
    status = json.loads((result.run_dir / "status.json").read_text())
    return float(status["train_wall_time_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=int, default=32, help="synthetic images over train/val/test (60/20/20)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    parser.add_argument("--append", action="store_true", help="append rows to bench/RESULTS.md")
    args = parser.parse_args()

    # What `bonefrac train` does before torch loads (runner.prefer_passive_openmp). Process-wide, but the
    # plain ultralytics run uses one thread on 2 cores, where the OpenMP wait policy has nothing to wait for.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from bonefrac.data.synth import write_synthetic_dataset
    from bonefrac.data.yolo_format import load_dataset
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        root = Path(tmp)
        for imgsz in args.sizes:
            data = write_synthetic_dataset(root / f"data{imgsz}", images=args.images, seed=0, size=imgsz)
            n_train = len(load_dataset(data.yaml_path).images("train"))
            plain = plain_ultralytics(data.yaml_path, imgsz, root / f"plain{imgsz}", name="plain")
            ours = bonefrac_runner(data.yaml_path, imgsz, root / f"runs{imgsz}")
            # the threads' share of the gain: ultralytics with plots off, as the runner has them
            no_plots = plain_ultralytics(
                data.yaml_path, imgsz, root / f"plain{imgsz}", name="np", plots=False
            )
            rows.append((imgsz, n_train, plain / n_train, ours / n_train, plain / ours, no_plots / ours))

    print(f"machine: {machine_label()}")
    print(
        f"{'imgsz':>5} {'train imgs':>10} {'plain s/img/ep':>15} {'runner s/img/ep':>16} {'speedup':>8} "
        f"{'vs plots-off':>12}"
    )
    for imgsz, n_train, plain, ours, speedup, threads_gain in rows:
        print(
            f"{imgsz:>5} {n_train:>10} {plain:>15.3f} {ours:>16.3f} {speedup:>7.2f}x {threads_gain:>11.2f}x"
        )
    if args.append:
        date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        policy = os.environ.get("OMP_WAIT_POLICY")
        append_rows(
            SECTION,
            TABLE_HEAD,
            [
                f"| {date} | {machine_label()} | bench_train.py imgsz {imgsz}, {n_train} train images, "
                f"1 epoch | plain ultralytics {plain:.3f} s/img/epoch; runner {ours:.3f} s/img/epoch; "
                f"**{speedup:.2f}x** (target >= 1.7x); vs ultralytics with plots off {gain:.2f}x | "
                f"OMP_WAIT_POLICY={policy}; shared machine, load average {os.getloadavg()[0]:.1f} at end |"
                for imgsz, n_train, plain, ours, speedup, gain in rows
            ],
        )
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
