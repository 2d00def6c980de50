"""What a `bonefrac train` run folder says about how a model was made (for the card's training section)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bonefrac.errors import ModelError
from bonefrac.train.metrics_files import read_epoch_rows


@dataclass(frozen=True)
class TrainingSummary:
    """What a training run folder says about how the model was made."""

    run_dir: str
    model: str
    imgsz: int
    batch: int
    epochs_done: int
    wall_hours: float
    budget_hours: float | None
    device: str
    cpu_count: int | None
    torch_threads: int | None
    train_positives: int | None
    train_backgrounds: int | None
    background_ratio: float | None
    drop_val_duplicates: bool
    best_epoch: int | None
    best_val_map50: float | None
    best_val_map50_95: float | None
    git_sha: str | None
    config: dict[str, Any]
    start: dict[str, Any] | None = None  # what training started from: sha256, credit (train/starts.py)
    finished: bool | None = None  # metrics.json written: training and its final evaluation ran to the end


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{what} not found: {path}") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{what} {path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{what} {path} should hold a JSON object, got {type(data).__name__}")
    return data


def read_training_summary(run_dir: Path) -> TrainingSummary:
    """Summarise a `bonefrac train` run folder (config.yaml, environment.json, dataset.json, results.csv)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise ModelError(f"{run_dir} is not a bonefrac run folder (no config.yaml in it)")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    env = (
        _read_json(run_dir / "environment.json", "run environment")
        if (run_dir / "environment.json").is_file()
        else {}
    )
    dataset = (
        _read_json(run_dir / "dataset.json", "run data set") if (run_dir / "dataset.json").is_file() else {}
    )
    rows = read_epoch_rows(run_dir / "results.csv")
    if not rows:
        raise ModelError(f"{run_dir}/results.csv holds no finished epoch; train the model first")
    scored = [r for r in rows if "map50_95" in r]
    best = max(scored, key=lambda r: 0.9 * r["map50_95"] + 0.1 * r.get("map50", 0.0)) if scored else None
    subset = config.get("subset") or {}
    return TrainingSummary(
        run_dir=str(run_dir),
        model=str(config.get("model")),
        imgsz=int(config.get("imgsz", 0)),
        batch=int(config.get("batch", 0)),
        epochs_done=len(rows),
        wall_hours=float(rows[-1].get("time", 0.0)) / 3600.0,
        budget_hours=config.get("budget_hours"),
        device=str(env.get("device", config.get("device"))),
        cpu_count=env.get("cpu_count"),
        torch_threads=env.get("torch_threads"),
        train_positives=dataset.get("train_positives"),
        train_backgrounds=dataset.get("train_backgrounds"),
        background_ratio=config.get("background_ratio"),
        drop_val_duplicates=bool(subset.get("drop_duplicates_of_train")),
        best_epoch=int(best["epoch"]) if best else None,
        best_val_map50=best.get("map50") if best else None,
        best_val_map50_95=best.get("map50_95") if best else None,
        git_sha=env.get("git_sha"),
        config=config,
        start=env.get("start") or _start_from_config(str(config.get("model", ""))),
        finished=(run_dir / "metrics.json").is_file(),
    )


def _start_from_config(model: str) -> dict[str, Any] | None:
    """For a run recorded before starts were: the weights file named in its config, looked up by sha256."""
    from bonefrac.hashing import file_sha256
    from bonefrac.train.starts import load_known_starts

    path = Path(model)
    if path.suffix.lower() != ".pt":
        return {"init": "random", "model": model} if model else None
    if not path.is_file():
        return {"init": "pretrained", "model": model, "path": str(path), "sha256": None, "credit": None}
    sha = file_sha256(path)
    known = load_known_starts().get(sha)
    return {
        "init": "pretrained",
        "model": model,
        "path": str(path.resolve()),
        "sha256": sha,
        "name": known.name if known else None,
        "credit": known.credit if known else None,
        "license": known.license if known else None,
        "recorded": "from the config's model path after training (the run predates start records)",
    }


@dataclass(frozen=True)
class ClassifierTraining:
    """What a `bonefrac classify train` run folder says about how the classifier was made."""

    run_dir: str
    imgsz: int
    epochs_done: int
    best_epoch: int
    wall_hours: float
    epoch_images: int | None
    train_images: int | None
    train_fractured: int | None
    torch_threads: int | None
    val_auroc: float | None
    config: dict[str, Any]


def read_classifier_training(run_dir: Path) -> ClassifierTraining:
    """Summarise a classifier run folder (config.yaml, metrics.json, dataset.json, environment.json)."""
    run_dir = Path(run_dir)
    metrics = _read_json(run_dir / "metrics.json", "classifier run metrics")
    dataset = _read_json(run_dir / "dataset.json", "classifier run data set")
    env = _read_json(run_dir / "environment.json", "classifier run environment")
    config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
    train = (dataset.get("images") or {}).get("train") or {}
    return ClassifierTraining(
        run_dir=str(run_dir),
        imgsz=int(metrics.get("imgsz", config.get("imgsz", 0))),
        epochs_done=int(metrics.get("epochs_completed", 0)),
        best_epoch=int(metrics.get("best_epoch", 0)),
        wall_hours=float(metrics.get("train_wall_time_s", 0.0)) / 3600.0,
        epoch_images=dataset.get("epoch_images"),
        train_images=train.get("images"),
        train_fractured=train.get("fractured"),
        torch_threads=env.get("torch_threads"),
        val_auroc=(metrics.get("val") or {}).get("auroc"),
        config=config,
    )
