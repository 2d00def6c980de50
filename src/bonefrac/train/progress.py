"""Training progress for people: epochs and batches with an ETA (rich), fed by the runner's callbacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@dataclass(frozen=True)
class EpochSummary:
    """What one finished epoch reported (validation metrics are None when validation did not run)."""

    epoch: int  # 1-based
    epochs: int  # the planned total (a wall-clock budget re-estimates it after each epoch)
    seconds: float
    map50: float | None
    map50_95: float | None


class TrainingProgress(Protocol):
    """What the runner calls while training; implement it to show progress anywhere."""

    def start(self, run_name: str, first_epoch: int, epochs: int, batches_per_epoch: int) -> None: ...

    def batch_done(self) -> None: ...

    def epoch_done(self, summary: EpochSummary) -> None: ...

    def close(self) -> None: ...


class RichTrainingProgress:
    """Two bars (epochs, batches of the current epoch) with elapsed time and ETA, one line per epoch."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._epochs: TaskID | None = None
        self._batches: TaskID | None = None
        self._batches_per_epoch = 0

    def start(self, run_name: str, first_epoch: int, epochs: int, batches_per_epoch: int) -> None:
        self.close()
        self._batches_per_epoch = batches_per_epoch
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._epochs = self._progress.add_task(f"{run_name} epochs", total=epochs, completed=first_epoch)
        self._batches = self._progress.add_task("  batches", total=batches_per_epoch)

    def batch_done(self) -> None:
        if self._progress is not None and self._batches is not None:
            self._progress.advance(self._batches)

    def epoch_done(self, summary: EpochSummary) -> None:
        if self._progress is None or self._epochs is None or self._batches is None:
            return
        self._progress.update(self._epochs, total=summary.epochs, completed=summary.epoch)
        self._progress.reset(self._batches, total=self._batches_per_epoch)
        metrics = (
            f"mAP50 {summary.map50:.3f}  mAP50-95 {summary.map50_95:.3f}"
            if summary.map50 is not None and summary.map50_95 is not None
            else "no validation this epoch"
        )
        self._progress.console.log(
            f"epoch {summary.epoch}/{summary.epochs}  {summary.seconds:.1f} s  {metrics}", highlight=False
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
