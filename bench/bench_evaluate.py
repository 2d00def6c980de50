"""Bootstrap speed: 95% intervals of every evaluation metric by re-weighting images vs re-evaluating.

    PYTHONPATH=src python bench/bench_evaluate.py [--images 400] [--resamples 1000] [--record]

A random single-class split (about 15% images with fractures, ~12 detections per image down to a 0.001
floor) is matched once; `vectorised` is `bootstrap_intervals` over all metrics for --resamples resamples.
`naive` re-matches and re-computes AP for a few resamples on explicitly resampled image lists (what a plain
loop over pycocotools-style evaluation does), scaled to --resamples. Both run in this process.
--record appends a dated, machine-labelled row to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _results import RESULTS, append_rows, machine_label  # noqa: E402

from bonefrac.evaluate.bootstrap import bootstrap_intervals, resample_weights  # noqa: E402
from bonefrac.evaluate.evaluator import DetectionEvaluator  # noqa: E402
from bonefrac.evaluate.matching import build_match_table  # noqa: E402
from bonefrac.evaluate.metrics import average_precision  # noqa: E402
from bonefrac.evaluate.predictions import GroundTruth, ImagePrediction  # noqa: E402
from bonefrac.records import Detections  # noqa: E402

SECTION = "## Evaluation bootstrap (`bench/bench_evaluate.py`)"
INTRO = "Seconds for all metrics' 95% intervals. `naive`: re-evaluating each resample (AP only), scaled."
TABLE_HEAD = (
    "| date (UTC) | machine | images | resamples | match s | vectorised s | naive s | speed-up |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


def random_split(n_images: int, seed: int = 0) -> tuple[list[ImagePrediction], list[GroundTruth]]:
    rng = np.random.default_rng(seed)
    preds, truths = [], []
    for i in range(n_images):
        n_gt = int(rng.integers(1, 3)) if rng.random() < 0.15 else 0
        xy = rng.uniform(0, 400, (n_gt, 2))
        gt = np.concatenate([xy, xy + rng.uniform(10, 40, (n_gt, 2))], axis=1)
        keep = rng.random(n_gt) < 0.8
        found = gt[keep] + rng.normal(0, 3, (int(keep.sum()), 4))
        fxy = rng.uniform(0, 400, (int(rng.poisson(12)), 2))
        boxes = np.concatenate([found, np.concatenate([fxy, fxy + 20], axis=1)]).reshape(-1, 4)
        conf = np.concatenate([rng.beta(5, 2, len(found)), rng.beta(1, 12, len(fxy))]).clip(0.001, 1)
        path = Path(f"/bench/img{i}.png")
        det = Detections(boxes, conf, np.zeros(len(boxes), int), ("fractured",))
        preds.append(ImagePrediction(path, 480, 480, det))
        truths.append(GroundTruth(path, 480, 480, gt, np.zeros(n_gt, int)))
    return preds, truths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive-resamples", type=int, default=10)
    parser.add_argument("--record", action="store_true", help="append the row to bench/RESULTS.md")
    args = parser.parse_args()

    preds, truths = random_split(args.images)
    start = time.perf_counter()
    evaluator = DetectionEvaluator(("fractured",))
    for p, t in zip(preds, truths, strict=True):
        evaluator.process(p, t)
    prepared = evaluator.evaluate()
    match_s = time.perf_counter() - start

    start = time.perf_counter()
    bootstrap_intervals(lambda w: prepared.metrics(w, 0.3), prepared.n_images, args.resamples, seed=0)
    vectorised_s = time.perf_counter() - start

    start = time.perf_counter()
    for counts in resample_weights(args.images, args.naive_resamples, seed=0).astype(int):
        chosen = np.repeat(np.arange(args.images), counts)
        table = build_match_table([preds[i] for i in chosen], [truths[i] for i in chosen], 0)
        average_precision(table, np.ones((1, len(chosen))))
    naive_s = (time.perf_counter() - start) / args.naive_resamples * args.resamples

    machine = machine_label()
    print("| images | resamples | match s | vectorised s | naive s (scaled) | speed-up |")
    print("|---|---|---|---|---|---|")
    row = (
        args.images,
        args.resamples,
        f"{match_s:.2f}",
        f"{vectorised_s:.2f}",
        f"{naive_s:.1f}",
        f"{naive_s / vectorised_s:.0f}x",
    )
    print("| " + " | ".join(str(v) for v in row) + " |")
    if args.record:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
        line = f"| {stamp} | {machine} | " + " | ".join(str(v) for v in row) + " |"
        append_rows(SECTION, TABLE_HEAD, [line], intro=INTRO)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
