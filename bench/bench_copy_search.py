"""Time `bonefrac data check` (its copy search above all) on a large folder of synthetic radiographs with
planted copies of every kind, and count the planted copies it finds.

The target is under 5 minutes for 20,000 images on a 2-core machine, with every planted copy found.

    PYTHONPATH=src python bench/bench_copy_search.py [--images 20000] [--copies 480] [--size 256]
        [--out DIR] [--workers N] [--record] [--note TEXT]

The folder (default .data/bench-copies-<images>) is made once and reused: train holds the sources, val the
planted copies (one per source, kinds in turn, from `bonefrac.data.synth.COPY_KINDS`) and other sources.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
from _results import RESULTS, append_rows, machine_label
from PIL import Image

from bonefrac.data.checks import run_checks
from bonefrac.data.parallel import default_workers, map_files
from bonefrac.data.synth import COPY_KINDS, planted_copy, render_radiograph
from bonefrac.data.yolo_format import load_dataset

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 300.0
SECTION = "## Copy search (`bench/bench_copy_search.py`)"
TABLE_HEAD = (
    "| date (UTC) | benchmark | machine | images | planted copies | found | other copy pairs | seconds "
    "| note |\n"
    "|---|---|---|---|---|---|---|---|---|\n"
)


def _write_one(task: tuple[Path, int, int, str | None]) -> None:
    """Render source `seed` and save it (or its planted copy of `kind`) as a JPEG at `path`."""
    path, seed, size, kind = task
    pixels, _ = render_radiograph(np.random.default_rng(seed), size, fractures=1)
    image = Image.fromarray(pixels)
    if kind is not None:
        image = planted_copy(image, kind)
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())


def make_folder(out: Path, images: int, copies: int, size: int, workers: int) -> dict[str, tuple[str, str]]:
    """Write the folder (once) and return planted copy file -> (source file, kind)."""
    kinds = sorted(COPY_KINDS)
    sources = images - copies
    stride = sources // copies
    planted = {
        f"copy_{k:05d}_{kinds[k % len(kinds)]}.jpg": (f"src_{k * stride:05d}.jpg", kinds[k % len(kinds)])
        for k in range(copies)
    }
    yaml_path = out / "data.yaml"
    if yaml_path.is_file():
        return planted
    train, val = out / "images" / "train", out / "images" / "val"
    train.mkdir(parents=True, exist_ok=True)
    val.mkdir(parents=True, exist_ok=True)
    tasks: list[tuple[Path, int, int, str | None]] = []
    for i in range(sources):  # every tenth source goes to val as an image of its own
        tasks.append(((val if i % 10 == 9 else train) / f"src_{i:05d}.jpg", i, size, None))
    for name, (source, kind) in planted.items():
        tasks.append((val / name, int(source[4:9]), size, kind))
    map_files(_write_one, tasks, workers)
    yaml_path.write_text(
        "# synthetic radiographs with planted copies (bench/bench_copy_search.py); not real patients\n"
        "train: images/train\nval: images/val\nnames: [fractured]\n"
    )
    return planted


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--copies", type=int, default=480)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--record", action="store_true", help=f"append a row to {RESULTS}")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    out = args.out or REPO / ".data" / f"bench-copies-{args.images}"
    started = time.perf_counter()
    planted = make_folder(out, args.images, args.copies, args.size, args.workers)
    print(f"folder {out} ready in {time.perf_counter() - started:.0f} s")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    outcome = run_checks(load_dataset(out / "data.yaml"), workers=args.workers)
    seconds = time.perf_counter() - started
    groups = {path.name: i for i, group in enumerate(outcome.copy_groups) for path in group}
    found = Counter(
        kind for name, (source, kind) in planted.items() 
        if name in groups and groups[name] == groups.get(source)
    )
    wanted = Counter(kind for _, kind in planted.values())
    planted_pairs = {frozenset(pair) for pair in ((name, source) for name, (source, _) in planted.items())}
    other = sum(
        1 for p in outcome.near_duplicates if frozenset((p.a.name, p.b.name)) not in planted_pairs
    )
    total_found = sum(found.values())
    print(f"machine: {machine_label()}")
    print(f"{args.images} images, check {seconds:.1f} s (target < {TARGET_S:.0f} s), load {load_before:.1f}")
    for kind in sorted(wanted):
        print(f"  {kind:<30} {found[kind]:>4} of {wanted[kind]}")
    print(f"  found {total_found} of {len(planted)} planted copies; {other} other copy pairs")
    if args.record:
        date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
        missed = ", ".join(f"{k} {wanted[k] - found[k]}" for k in sorted(wanted) if found[k] < wanted[k])
        note = f"load avg {load_before:.1f} at start; {args.size} px; {args.workers} workers. " + (
            f"missed: {missed}. " if missed else "every kind found. "
        )
        cells = [
            date, f"data check with copy search (target < {TARGET_S:.0f} s)", machine_label(),
            str(args.images), str(len(planted)), str(total_found), str(other), f"{seconds:.1f}",
            (note + args.note).strip(),
        ]  # fmt: skip
        append_rows(SECTION, TABLE_HEAD, ["| " + " | ".join(cells) + " |"])
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
