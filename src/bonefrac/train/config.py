"""The typed training config: what `bonefrac train CONFIG.yaml` reads, validated before anything runs.

Every key has a default; a YAML file only overrides. `to_ultralytics_args` is the one place where our names
become ultralytics' training arguments.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from bonefrac.config import StrictModel, build_config, deep_merge, parse_overrides, read_yaml_mapping
from bonefrac.data.subsets import SubsetOptions

MODEL_SCALES = ("n", "s", "m", "l", "x")
MODEL_FAMILIES = ("yolo11", "yolo26", "yolov5")  # yolov5: the anchor-free v5u, the COCO start's architecture
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")


def builtin_model_names() -> tuple[str, ...]:
    """Model yaml names built from ultralytics' own architecture files (random init, nothing downloaded)."""
    return tuple(f"{family}{scale}.yaml" for family in MODEL_FAMILIES for scale in MODEL_SCALES)


class SyntheticData(StrictModel):
    """Synthetic radiographs written into the experiment folder (for smoke runs and tests; not real data)."""

    images: int = Field(default=40, ge=6, le=5000)
    size: int = Field(default=96, ge=32, le=1024)
    seed: int = 0
    background_share: float = Field(default=0.3, ge=0.0, le=1.0)


class OptimizerConfig(StrictModel):
    """Optimizer and learning-rate schedule (ultralytics: optimizer, lr0, lrf, cos_lr, warmup_*)."""

    name: Literal["auto", "SGD", "MuSGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSProp"] = "auto"
    lr0: float = Field(default=0.01, gt=0.0, le=1.0)
    lrf: float = Field(default=0.01, gt=0.0, le=1.0)
    cos_lr: bool = False
    momentum: float = Field(default=0.937, ge=0.0, lt=1.0)
    weight_decay: float = Field(default=0.0005, ge=0.0, le=0.1)
    warmup_epochs: float = Field(default=3.0, ge=0.0)
    warmup_momentum: float = Field(default=0.8, ge=0.0, lt=1.0)
    warmup_bias_lr: float = Field(default=0.1, ge=0.0)


class PhotometricAugment(StrictModel):
    """Robustness to images from other sources: exposure, contrast, gamma, JPEG quality, blur, noise.

    Each transform is off until its strength is set (`gamma: 0.3`); its `_p` is how often it is applied.
    bonefrac.train.augment turns the block into albumentations transforms (ultralytics' `augmentations`)."""

    brightness_contrast: float = Field(default=0.0, ge=0.0, le=0.9)  # +-limit of brightness and of contrast
    brightness_contrast_p: float = Field(default=0.5, ge=0.0, le=1.0)
    gamma: float = Field(default=0.0, ge=0.0, le=0.9)  # gamma drawn from [1 - g, 1 + g]
    gamma_p: float = Field(default=0.5, ge=0.0, le=1.0)
    jpeg_quality: tuple[int, int] | None = None  # re-encode as JPEG at a quality in [low, high]
    jpeg_p: float = Field(default=0.3, ge=0.0, le=1.0)
    blur: int = Field(default=0, ge=0, le=31)  # Gaussian blur with an odd kernel of 3..blur pixels
    blur_p: float = Field(default=0.1, ge=0.0, le=1.0)
    noise: float = Field(default=0.0, ge=0.0, le=0.3)  # Gaussian noise, std up to this fraction of full scale
    noise_p: float = Field(default=0.1, ge=0.0, le=1.0)

    @field_validator("jpeg_quality")
    @classmethod
    def _quality_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 1 <= value[0] <= value[1] <= 100:
            raise ValueError(
                f"jpeg_quality must be [low, high] with 1 <= low <= high <= 100, got {list(value)}"
            )
        return value

    @field_validator("blur")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value and (value < 3 or value % 2 == 0):
            raise ValueError(f"blur must be 0 (off) or an odd kernel size >= 3, got {value}")
        return value

    def is_active(self) -> bool:
        """True when at least one transform is switched on with a probability above zero."""
        return any(
            strength and p > 0
            for strength, p in (
                (self.brightness_contrast, self.brightness_contrast_p),
                (self.gamma, self.gamma_p),
                (self.jpeg_quality, self.jpeg_p),
                (self.blur, self.blur_p),
                (self.noise, self.noise_p),
            )
        )


class AugmentConfig(StrictModel):
    """Training augmentation (ultralytics names); defaults are ultralytics' defaults."""

    hsv_h: float = Field(default=0.015, ge=0.0, le=1.0)
    hsv_s: float = Field(default=0.7, ge=0.0, le=1.0)
    hsv_v: float = Field(default=0.4, ge=0.0, le=1.0)
    degrees: float = Field(default=0.0, ge=0.0, le=180.0)
    translate: float = Field(default=0.1, ge=0.0, le=1.0)
    scale: float = Field(default=0.5, ge=0.0, le=0.95)
    shear: float = Field(default=0.0, ge=0.0, le=90.0)
    perspective: float = Field(default=0.0, ge=0.0, le=0.001)
    flipud: float = Field(default=0.0, ge=0.0, le=1.0)
    fliplr: float = Field(default=0.5, ge=0.0, le=1.0)
    mosaic: float = Field(default=1.0, ge=0.0, le=1.0)
    mixup: float = Field(default=0.0, ge=0.0, le=1.0)
    cutmix: float = Field(default=0.0, ge=0.0, le=1.0)
    close_mosaic: int = Field(default=10, ge=0)
    photometric: PhotometricAugment = PhotometricAugment()  # all off: ultralytics' own albumentations set


class LossConfig(StrictModel):
    """Loss gains: box regression, classification, distribution focal loss."""

    box: float = Field(default=7.5, gt=0.0)
    cls: float = Field(default=0.5, gt=0.0)
    dfl: float = Field(default=1.5, gt=0.0)


class TrainConfig(StrictModel):
    """One training run. Relative paths (data, model .pt, runs_dir) are resolved against the cwd."""

    experiment: str = "default"
    name: str | None = None  # run folder name; default "<model stem>-s<seed>"
    cell: str | None = None  # the experiment-matrix cell (runs of one cell differ only by seed)
    runs_dir: str = "runs"

    model: str = "yolo11n.yaml"
    # freeze the first N layers (model.0 .. model.N-1); checked at run start
    freeze: int = Field(default=0, ge=0)
    data: str | None = None  # a data.yaml
    synthetic: SyntheticData | None = None  # or synthetic data written under runs_dir/<experiment>/_data
    subset: SubsetOptions | None = None  # `bonefrac data subset` options applied to the data first

    imgsz: int = Field(default=640, ge=32, le=4096)
    epochs: int = Field(default=100, ge=1)
    # wall-clock budget; when set it wins over epochs
    budget_hours: float | None = Field(default=None, gt=0.0)
    patience: int = Field(default=100, ge=0)
    batch: int = Field(default=16, ge=1)
    device: str | int | list[int] = "cpu"
    workers: int = Field(default=8, ge=0)
    cache: bool | Literal["ram", "disk"] = False
    seed: int = Field(default=0, ge=0)
    deterministic: bool = False
    amp: bool = True

    optimizer: OptimizerConfig = OptimizerConfig()
    augment: AugmentConfig = AugmentConfig()
    multi_scale: float = Field(default=0.0, ge=0.0, le=0.9)
    loss: LossConfig = LossConfig()
    background_ratio: float | None = Field(default=None, ge=0.0, le=1.0)

    val_each_epoch: bool = True
    plots: bool = False
    save_period: int = -1

    @field_validator("experiment", "name", "cell")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME_PATTERN.match(value):
            raise ValueError(
                f"must be a folder-safe name (letters, digits, . _ = + -; not starting with a symbol), "
                f"got {value!r}"
            )
        return value

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        suffix = Path(value).suffix.lower()
        if value in builtin_model_names() or suffix == ".pt":
            return value  # a .pt path is checked for existence when the run starts
        if suffix in {".yaml", ".yml"} and Path(value).is_file():
            return value
        close = difflib.get_close_matches(value, builtin_model_names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"model must be one of {', '.join(builtin_model_names())} (built from ultralytics' architecture "
            f"files, nothing downloaded), a path to a project-made .pt, or an existing model .yaml; "
            f"got {value!r}{hint}"
        )

    @field_validator("device")
    @classmethod
    def _device(cls, value: str | int | list[int]) -> str | int | list[int]:
        if isinstance(value, list):
            if not value or len(set(value)) != len(value) or min(value) < 0:
                raise ValueError(f"a device list must hold distinct GPU indices >= 0, got {value}")
            return value
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"a GPU index must be >= 0, got {value}")
            return value
        text = value.strip().lower()
        if text == "cpu" or re.fullmatch(r"\d+(,\d+)*", text):
            return text
        raise ValueError(
            f"device must be 'cpu', a GPU index (0), or a list of indices ([0, 1]), got {value!r}"
        )

    @model_validator(mode="after")
    def _one_data_source(self) -> TrainConfig:
        if (self.data is None) == (self.synthetic is None):
            raise ValueError(
                "give exactly one data source: 'data' (a data.yaml path) or 'synthetic' (a block)"
            )
        return self

    @property
    def run_name(self) -> str:
        return self.name or f"{Path(self.model).stem}-s{self.seed}"

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.experiment / self.run_name

    def device_string(self) -> str:
        """The device as ultralytics wants it: 'cpu', '0', or '0,1' (several GPUs train with DDP)."""
        if isinstance(self.device, list):
            return ",".join(str(i) for i in self.device)
        return str(self.device)

    def gpu_indices(self) -> list[int]:
        text = self.device_string()
        return [] if text == "cpu" else [int(i) for i in text.split(",")]


def to_ultralytics_args(config: TrainConfig) -> dict[str, Any]:
    """Our config as ultralytics training arguments (data, project and name are set by the runner).

    With `augment.photometric` on, `augmentations` holds albumentations transforms (imported only then)."""
    opt, aug, loss = config.optimizer, config.augment, config.loss
    augmentations = ultralytics_augmentations(config)
    return {
        "imgsz": config.imgsz,
        "epochs": config.epochs,
        "time": config.budget_hours,
        "patience": config.patience,
        "batch": config.batch,
        "device": config.device_string(),
        "workers": config.workers,
        "cache": config.cache,
        "seed": config.seed,
        "deterministic": config.deterministic,
        "amp": config.amp and bool(config.gpu_indices()),
        "optimizer": opt.name,
        "lr0": opt.lr0,
        "lrf": opt.lrf,
        "cos_lr": opt.cos_lr,
        "momentum": opt.momentum,
        "weight_decay": opt.weight_decay,
        "warmup_epochs": opt.warmup_epochs,
        "warmup_momentum": opt.warmup_momentum,
        "warmup_bias_lr": opt.warmup_bias_lr,
        **aug.model_dump(exclude={"photometric"}),
        "multi_scale": config.multi_scale,
        "box": loss.box,
        "cls": loss.cls,
        "dfl": loss.dfl,
        "val": config.val_each_epoch,
        "plots": config.plots,
        "save_period": config.save_period,
        "freeze": config.freeze or None,  # ultralytics' default when nothing is frozen
        "save": True,
        "verbose": False,
        "pretrained": Path(config.model).suffix.lower()
        == ".pt",  # start from a .pt's weights, never download
        **({"augmentations": augmentations} if augmentations else {}),
    }


def ultralytics_augmentations(config: TrainConfig) -> list[Any] | None:
    """The photometric block as albumentations transforms for ultralytics' `augmentations`, or None (off)."""
    block = config.augment.photometric
    if not block.is_active():
        return None
    from bonefrac.train.augment import photometric_transforms

    return photometric_transforms(block)


def nest_dotted(mapping: dict[str, Any]) -> dict[str, Any]:
    """{"loss.dfl": 2.0} -> {"loss": {"dfl": 2.0}}; nested dicts are walked too."""
    result: dict[str, Any] = {}
    for key, value in mapping.items():
        value = nest_dotted(value) if isinstance(value, dict) else value
        parts = str(key).split(".")
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = deep_merge(node[parts[-1]], value)
        else:
            node[parts[-1]] = value
    return result


def build_train_config(data: dict[str, Any], source: str, overrides: list[str] | None = None) -> TrainConfig:
    """Validate a mapping (dotted keys allowed) plus `key=value` overrides into a TrainConfig."""
    merged = deep_merge(nest_dotted(data), parse_overrides(overrides or []))
    return build_config(TrainConfig, merged, source)


def load_train_config(path: Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a training YAML file; unknown keys fail with the closest valid name."""
    return build_train_config(read_yaml_mapping(Path(path)), str(path), overrides)


def dump_config(config: TrainConfig) -> dict[str, Any]:
    """The fully resolved config as plain YAML-ready data."""
    return config.model_dump(mode="json")


def read_saved_config(path: Path) -> dict[str, Any]:
    """A run's config.yaml resolved with today's defaults, so keys added since it was written compare equal
    to their defaults; as written when it no longer validates (a key was removed or renamed since)."""
    saved = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    try:
        return dump_config(TrainConfig.model_validate(saved))
    except ValidationError:
        return saved
