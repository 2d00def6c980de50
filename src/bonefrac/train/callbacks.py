"""ultralytics hooks for the runner: all CPU cores, progress reports, an AMP check that downloads nothing,
and results.csv read without polars where it is not installed."""

from __future__ import annotations

import csv
import importlib.util
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bonefrac.train.config import TrainConfig
from bonefrac.train.progress import EpochSummary, TrainingProgress

logger = logging.getLogger(__name__)


@contextmanager
def offline_amp_check() -> Iterator[None]:
    """ultralytics' GPU AMP self-check downloads yolo26n.pt: skip it (AMP stays on) unless that is local."""
    import ultralytics.engine.trainer as trainer_module
    from ultralytics.utils import WEIGHTS_DIR

    original = trainer_module.check_amp

    def check_amp_offline(model: Any) -> bool:
        if (WEIGHTS_DIR / "yolo26n.pt").is_file():
            return bool(original(model))
        logger.info("AMP self-check skipped (it would download yolo26n.pt); AMP stays on")
        return True

    trainer_module.check_amp = check_amp_offline
    try:
        yield
    finally:
        trainer_module.check_amp = original


@contextmanager
def results_csv_without_polars() -> Iterator[None]:
    """ultralytics reads results.csv with polars into every checkpoint; where polars is not installed (GPU
    images often lack it, and its wheel is too large to carry) read it with the csv module instead."""
    if importlib.util.find_spec("polars") is not None:
        yield
        return
    import ultralytics.engine.trainer as trainer_module

    original = trainer_module.BaseTrainer.read_results_csv

    def read_results_csv(trainer: Any) -> dict[str, list[Any]]:
        try:
            with open(trainer.csv, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except OSError:
            return {}
        return {key.strip(): [_number(row[key]) for row in rows] for key in (rows[0] if rows else {})}

    logger.info("polars is not installed: results.csv is read with the csv module")
    # patching a method of ultralytics' class for this run: mypy forbids assigning to methods
    trainer_module.BaseTrainer.read_results_csv = read_results_csv  # type: ignore[method-assign]
    try:
        yield
    finally:
        trainer_module.BaseTrainer.read_results_csv = original  # type: ignore[method-assign]


def _number(text: str | None) -> float | str | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return text


def training_callbacks(
    config: TrainConfig, threads: int | None, progress: TrainingProgress | None
) -> dict[str, Callable[[Any], None]]:
    """ultralytics callbacks: all CPU cores for training and validation, and progress reports."""
    import torch

    def use_all_cores(_: Any) -> None:
        if threads:
            torch.set_num_threads(threads)

    def on_train_start(trainer: Any) -> None:
        use_all_cores(trainer)
        if progress is not None:
            progress.start(config.run_name, trainer.start_epoch, trainer.epochs, len(trainer.train_loader))

    def on_train_batch_end(_: Any) -> None:
        if progress is not None:
            progress.batch_done()

    trained: set[int] = set()

    def on_train_epoch_end(trainer: Any) -> None:
        trained.add(trainer.epoch)

    def on_fit_epoch_end(trainer: Any) -> None:
        if progress is None or trainer.epoch not in trained:
            return  # ultralytics fires this event once more, with epoch + 1, after its final validation
        trained.discard(trainer.epoch)
        metrics = trainer.metrics or {}
        map50 = metrics.get("metrics/mAP50(B)")
        map50_95 = metrics.get("metrics/mAP50-95(B)")
        progress.epoch_done(
            EpochSummary(
                epoch=trainer.epoch + 1,
                epochs=trainer.epochs,
                seconds=float(trainer.epoch_time or 0.0),
                map50=None if map50 is None else float(map50),
                map50_95=None if map50_95 is None else float(map50_95),
            )
        )

    return {
        "on_train_start": on_train_start,
        "on_val_start": use_all_cores,
        "on_train_batch_end": on_train_batch_end,
        "on_train_epoch_end": on_train_epoch_end,
        "on_fit_epoch_end": on_fit_epoch_end,
    }
