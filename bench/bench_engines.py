"""The engines table of `bonefrac bench --engines`, printed and (with --record) added to bench/RESULTS.md.

    PYTHONPATH=src python bench/bench_engines.py --int8 .data/int8/minmax-64/model.int8.onnx [--record]

The shipped model at its own size (480) with the given int8 copy, and YOLO11n (random weights) at 640 with
an int8 copy quantized on synthetic images (timing only); 1 and 2 threads; medians of interleaved runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from _results import append_rows, machine_label  # noqa: E402

SECTION = "## Engines: onnxruntime and OpenVINO, fp32 and int8 (`bench/bench_engines.py`)"
HEAD = (
    "| date | machine | model | imgsz | threads | variant | ms | speedup vs session.run fp32 |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "deploy" / "model" / "model.onnx")
    parser.add_argument("--int8", type=Path, required=True, help="the model's int8 copy")
    parser.add_argument("--other-size", type=int, default=640)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--record", action="store_true", help="append rows to bench/RESULTS.md")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    from bonefrac.export.benchmark import export_for_bench, random_yolo11n
    from bonefrac.export.engine_bench import EngineModel, run_engine_bench
    from bonefrac.export.quantize import quantize_int8
    from bonefrac.export.samples import synthetic_samples

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bonefrac-bench-engines-") as tmp:
        folder = Path(tmp)
        weights = random_yolo11n(folder)
        other = export_for_bench(weights, args.other_size, folder)
        other_int8 = quantize_int8(
            other, folder / "other.int8.onnx", [i for _, i in synthetic_samples(8)], args.other_size
        )
        models = [
            EngineModel(f"{args.model.name} (int8: {args.int8.name})", args.model, args.int8),
            EngineModel("YOLO11n random weights (int8 on synthetic images)", other, other_int8),
        ]
        rows = run_engine_bench(models, args.threads, args.repeats)
    machine = machine_label()
    lines = [
        f"| {date.today()} | {machine}, load avg {load_before:.1f} at start | {r.model} | {r.imgsz} | "
        f"{r.threads} | {r.variant} | {r.ms:.1f} | {r.speedup:.2f}x |"
        for r in rows
    ]
    print("\n".join(lines))
    if args.record:
        append_rows(SECTION, HEAD, lines)


if __name__ == "__main__":
    main()
