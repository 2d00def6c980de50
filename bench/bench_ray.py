"""Images per second of `bonefrac predict` plain and on a local Ray cluster with 1 and 2 workers.

    PYTHONPATH=src python bench/bench_ray.py --images ../shared/data/fracatlas/images/test [--record]

The same images (the first `--count` of the folder, sorted) go through the plain path (`predict_files`, one
process) and through `predict --cluster ray` with each worker count, without annotated images; every Ray
document is checked to equal the plain one. Throughput counts the analysis only (the cluster's start is
reported apart).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from _results import append_rows, machine_label  # noqa: E402

SECTION = "## Archive prediction on Ray (`bench/bench_ray.py`)"
HEAD = (
    "| date | machine | images | path | workers x threads | images/s | cluster start s | same documents |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="a folder of radiographs")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--model", type=Path, default=REPO / "deploy" / "model" / "model.onnx")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--record", action="store_true", help="append rows to bench/RESULTS.md")
    args = parser.parse_args()

    from bonefrac.infer.analysis import FractureAnalyser
    from bonefrac.infer.batch import collect_inputs, predict_files
    from bonefrac.infer.ray_batch import RayJob, predict_on_ray, read_results

    items = collect_inputs([args.images])[: args.count]
    rows = []
    machine = machine_label()
    with tempfile.TemporaryDirectory(prefix="bonefrac-bench-ray-") as tmp:
        analyser = FractureAnalyser.from_model(args.model, threads=1)
        started = time.perf_counter()
        outcomes = predict_files(items, analyser, Path(tmp) / "plain", save_images=False)
        plain_s = time.perf_counter() - started
        plain = {str(o.path): json.loads(o.json_path.read_text()) for o in outcomes if o.json_path}
        rows.append(("plain `bonefrac predict`", "1 x 1", len(items) / plain_s, None, True))
        for workers in args.workers:
            out = Path(tmp) / f"ray{workers}"
            job = RayJob(args.model, out, workers=workers, threads=1, save_images=False)
            run = predict_on_ray(items, job)
            written = [r for r in read_results(out) if r["result_json"]]
            same = {r["file_name"]: json.loads(r["result_json"]) for r in written} == plain
            rows.append(("`--cluster ray`", f"{workers} x 1", run.images_per_s, run.startup_s, same))
    for path, shape, per_s, startup, same in rows:
        start = "-" if startup is None else f"{startup:.1f}"
        print(f"{path:28} {shape:6} {per_s:6.2f} images/s  start {start:>5} s  same documents {same}")
    if args.record:
        append_rows(
            SECTION,
            HEAD,
            [
                f"| {date.today()} | {machine} | {len(items)} | {path} | {shape} | {per_s:.2f} | "
                f"{'-' if startup is None else f'{startup:.1f}'} | {'yes' if same else 'NO'} |"
                for path, shape, per_s, startup, same in rows
            ],
        )


if __name__ == "__main__":
    main()
