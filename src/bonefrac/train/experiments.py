"""Experiment matrices: a base training config plus named variants and one-factor sweeps, expanded into runs.

Every cell runs once per seed into runs/<experiment>/<cell>-s<seed>/. Re-running a matrix skips finished
runs and resumes interrupted ones from their last checkpoint.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bonefrac.config import StrictModel, build_config, deep_merge, parse_overrides, read_yaml_mapping
from bonefrac.errors import ConfigError
from bonefrac.train.config import (
    TrainConfig,
    build_train_config,
    dump_config,
    nest_dotted,
    read_saved_config,
)
from bonefrac.train.registry import RunState, run_state

logger = logging.getLogger(__name__)

RESERVED_KEYS = frozenset({"experiment", "name", "cell", "seed"})


class Sweep(StrictModel):
    """One config key tried at several values, each value its own cell named <sweep>-<label>."""

    key: str
    values: list[Any] = Field(min_length=1)
    labels: list[str] | None = None

    @model_validator(mode="after")
    def _labels_match(self) -> Sweep:
        if self.labels is not None and len(self.labels) != len(self.values):
            raise ValueError(
                f"labels must have one entry per value ({len(self.values)}), got {len(self.labels)}"
            )
        return self

    def cell_labels(self) -> list[str]:
        """Given labels, else each value (a model path by its stem: yolo11s.yaml -> yolo11s)."""
        if self.labels is not None:
            return list(self.labels)
        return [Path(v).stem if isinstance(v, str) else str(v) for v in self.values]


class ExperimentFile(StrictModel):
    """A matrix file: see configs/experiments/seed.yaml."""

    experiment: str
    description: str = ""
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    base: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sweeps: dict[str, Sweep] = Field(default_factory=dict)

    @field_validator("base")
    @classmethod
    def _no_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(RESERVED_KEYS & set(value))
        if reserved:
            raise ValueError(f"base must not set {reserved}: the matrix sets them for every run")
        return value

    @model_validator(mode="after")
    def _has_cells(self) -> ExperimentFile:
        if not self.variants and not self.sweeps:
            raise ValueError("a matrix needs at least one entry under 'variants' or 'sweeps'")
        return self


@dataclass(frozen=True)
class PlannedRun:
    cell: str
    seed: int
    config: TrainConfig


def cell_overrides(matrix: ExperimentFile) -> dict[str, dict[str, Any]]:
    """Cell name -> nested overrides on base, variants first, then sweeps in file order."""
    cells: dict[str, dict[str, Any]] = {}
    for name, overrides in matrix.variants.items():
        cells[name] = nest_dotted(overrides)
    for sweep_name, sweep in matrix.sweeps.items():
        for label, value in zip(sweep.cell_labels(), sweep.values, strict=True):
            name = f"{sweep_name}-{label}"
            if name in cells:
                raise ConfigError(f"cell name {name!r} is defined twice (variants and sweep {sweep_name!r})")
            cells[name] = nest_dotted({sweep.key: value})
    return cells


def select_cells(available: Sequence[str], only: Sequence[str] | None) -> list[str]:
    """Cells matching any of `only` (exact names or shell patterns like 'dfl-*'); all when `only` is empty."""
    if not only:
        return list(available)
    chosen: list[str] = []
    for pattern in only:
        matches = [c for c in available if fnmatch.fnmatchcase(c, pattern)]
        if not matches:
            close = difflib.get_close_matches(pattern, list(available), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"no cell matches {pattern!r}{hint} (cells: {', '.join(available)})")
        chosen += [c for c in matches if c not in chosen]
    return [c for c in available if c in chosen]


def expand_matrix(
    matrix: ExperimentFile,
    source: str,
    *,
    only: Sequence[str] | None = None,
    seeds: int | None = None,
    overrides: list[str] | None = None,
) -> list[PlannedRun]:
    """Every (cell, seed) run as a validated TrainConfig; errors name the cell they come from."""
    base = deep_merge(nest_dotted(matrix.base), parse_overrides(overrides or []))
    seed_list = list(range(seeds)) if seeds is not None else matrix.seeds
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    cells = cell_overrides(matrix)
    planned = []
    for cell in select_cells(list(cells), only):
        for seed in seed_list:
            data = deep_merge(base, cells[cell])
            data.update(experiment=matrix.experiment, cell=cell, seed=seed, name=f"{cell}-s{seed}")
            planned.append(PlannedRun(cell, seed, build_train_config(data, f"{source} (cell {cell!r})")))
    return planned


def load_experiment(path: Path) -> ExperimentFile:
    return build_config(ExperimentFile, read_yaml_mapping(Path(path)), str(path))


RunAction = Literal["train", "resume", "skip"]


@dataclass(frozen=True)
class CellOutcome:
    cell: str
    seed: int
    run_dir: Path
    action: RunAction


ACTION_FOR_STATE: dict[RunState, RunAction] = {"finished": "skip", "interrupted": "resume", "new": "train"}


def planned_action(run: PlannedRun) -> RunAction:
    state = run_state(run.config.run_dir)
    return ACTION_FOR_STATE[state]


def _warn_if_config_changed(run: PlannedRun) -> None:
    saved_path = run.config.run_dir / "config.yaml"
    if saved_path.is_file():
        saved = read_saved_config(saved_path)
        changed = sorted(k for k, v in dump_config(run.config).items() if saved.get(k) != v)
        if changed:
            logger.warning(
                "%s is finished but the matrix now differs in %s; delete the folder to run it again",
                run.config.run_dir,
                changed,
            )


def run_experiment(
    planned: Sequence[PlannedRun],
    train: Callable[[TrainConfig, bool], object],
) -> list[CellOutcome]:
    """Run each planned run in order: skip finished, resume interrupted, train new. `train(config, resume)`
    is the runner (bonefrac.train.runner.train_model with progress bound, in the CLI)."""
    outcomes = []
    for run in planned:
        action = planned_action(run)
        if action == "skip":
            _warn_if_config_changed(run)
            logger.info("skip %s (finished)", run.config.run_dir)
        else:
            logger.info("%s %s", "resume" if action == "resume" else "train", run.config.run_dir)
            train(run.config, action == "resume")
        outcomes.append(CellOutcome(run.cell, run.seed, run.config.run_dir, action))
    return outcomes
