"""Train-stage fixtures: hand-made run folders (no training) for registry and experiment tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

# As `bonefrac train` does before torch loads (see runner.prefer_passive_openmp); effective when torch has
# not been imported yet by the time this stage's tests are collected.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# albumentations looks up its newest version online when imported (bonefrac.train.augment sets this too).
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def make_run_folder(
    runs_dir: Path,
    experiment: str,
    cell: str,
    seed: int,
    map50_95: float | None,
    *,
    test: bool = True,
    checkpoint: bool = False,
) -> Path:
    """A run folder as the runner leaves it: finished when map50_95 is given, else interrupted/new."""
    run_dir = runs_dir / experiment / f"{cell}-s{seed}"
    run_dir.mkdir(parents=True)
    config = {"experiment": experiment, "cell": cell, "seed": seed, "model": "yolo11n.yaml", "imgsz": 64}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    if checkpoint:
        (run_dir / "weights").mkdir()
        (run_dir / "weights" / "last.pt").write_bytes(b"not a real checkpoint")
    if map50_95 is not None:
        split = {"images": 5, "precision": 0.5, "recall": 0.4, "map50": map50_95 + 0.2, "map50_95": map50_95}
        metrics = {"schema_version": 1, "epochs_completed": 2, "train_wall_time_s": 10.0, "val": split}
        if test:
            metrics["test"] = split
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir


@pytest.fixture
def run_folder_factory(tmp_path: Path):
    def factory(*args, **kwargs) -> Path:  # type: ignore[no-untyped-def]
        return make_run_folder(tmp_path / "runs", *args, **kwargs)

    return factory
