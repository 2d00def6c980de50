"""Where a run's training data comes from: a data.yaml, or synthetic data; plus the background-ratio list.

`prepare_training_data` returns the data.yaml ultralytics trains on and the DatasetSpecs (with fingerprints)
of the source data and of what is actually trained on.
"""

from __future__ import annotations

import hashlib
import logging
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from bonefrac.data.subsets import SubsetOptions
from bonefrac.data.yolo_format import label_path_for, load_dataset, read_label_lines
from bonefrac.errors import DatasetError
from bonefrac.records import DatasetSpec
from bonefrac.train.config import SyntheticData, TrainConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingData:
    """The data.yaml to train on, and what it holds."""

    yaml_path: Path
    source: DatasetSpec  # the data set the config names
    trained: DatasetSpec  # what training reads (differs from source with subset or background_ratio)
    train_positives: int
    train_backgrounds: int


def synthetic_data_dir(config: TrainConfig, synthetic: SyntheticData) -> Path:
    """runs/<experiment>/_data/synthetic-<images>x<size>-s<seed>-b<share>: shared by the experiment's runs."""
    tag = f"synthetic-{synthetic.images}x{synthetic.size}-s{synthetic.seed}-b{synthetic.background_share:g}"
    return Path(config.runs_dir) / config.experiment / "_data" / tag


def ensure_synthetic_data(config: TrainConfig, synthetic: SyntheticData) -> Path:
    """Write the synthetic data set once (deterministic for its options) and return its data.yaml."""
    from bonefrac.data.synth import write_synthetic_dataset

    folder = synthetic_data_dir(config, synthetic)
    yaml_path = folder / "data.yaml"
    if yaml_path.is_file():
        return yaml_path
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    write_synthetic_dataset(
        partial,
        images=synthetic.images,
        seed=synthetic.seed,
        size=synthetic.size,
        background_share=synthetic.background_share,
    )
    partial.rename(folder)
    logger.info("wrote synthetic data set %s", folder)
    return yaml_path


class SubsetRunConfig(Protocol):
    """What `ensure_subset` reads of a run's config (a detector's TrainConfig, the classifier's config)."""

    @property
    def subset(self) -> SubsetOptions | None: ...

    @property
    def runs_dir(self) -> str: ...

    @property
    def experiment(self) -> str: ...


def ensure_subset(config: SubsetRunConfig, source: DatasetSpec) -> Path:
    """Write the config's subset of `source` once per (data, options) under runs/<experiment>/_data/."""
    from bonefrac.data.subsets import write_subset

    options = config.subset
    if options is None:
        raise DatasetError("ensure_subset needs a config with a 'subset' block")
    key = hashlib.sha256(f"{source.fingerprint}\n{options.model_dump_json()}".encode()).hexdigest()[:12]
    folder = Path(config.runs_dir) / config.experiment / "_data" / f"subset-{key}"
    if (folder / "data.yaml").is_file():
        return folder / "data.yaml"
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    write_subset(source, partial, options)
    partial.rename(folder)
    logger.info("wrote subset %s of %s", folder, source.yaml_path)
    return folder / "data.yaml"


def has_boxes(image: Path) -> bool:
    label = label_path_for(image)
    return label.is_file() and bool(read_label_lines(label))


def write_background_subset(spec: DatasetSpec, ratio: float, seed: int, out_dir: Path) -> Path:
    """Write out_dir/train.txt (every train image with a box, plus a seeded `ratio` share of the background
    images) and out_dir/data.yaml (that list for train; val and test exactly as in the source)."""
    train = spec.images("train")
    positives = [p for p in train if has_boxes(p)]
    backgrounds = [p for p in train if not has_boxes(p)]
    keep = round(len(backgrounds) * ratio)
    chosen = sorted(random.Random(seed).sample(backgrounds, keep)) if keep else []
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [str(p) for p in sorted(positives + chosen)]
    (out_dir / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    body: dict[str, object] = {"train": str((out_dir / "train.txt").resolve())}
    for split in ("val", "test"):
        if split in spec.splits:
            list_file = out_dir / f"{split}.txt"
            list_file.write_text("\n".join(str(p) for p in spec.splits[split]) + "\n", encoding="utf-8")
            body[split] = str(list_file.resolve())
    body["names"] = dict(enumerate(spec.class_names))
    yaml_path = out_dir / "data.yaml"
    header = (
        f"# Made by bonefrac from {spec.yaml_path}: all {len(positives)} train images with boxes plus "
        f"{keep} of {len(backgrounds)} background images (background_ratio {ratio}, seed {seed}).\n"
    )
    yaml_path.write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return yaml_path


def prepare_training_data(config: TrainConfig, run_dir: Path) -> TrainingData:
    """Resolve the config's data source into the data.yaml to train on (writing lists into run_dir/data)."""
    if config.synthetic is not None:
        source_yaml = ensure_synthetic_data(config, config.synthetic)
    else:
        source_yaml = Path(str(config.data)).expanduser()
        if not source_yaml.is_file():
            raise DatasetError(
                f"data.yaml not found: {source_yaml.resolve()} (data paths are relative to the folder "
                "you run bonefrac from)"
            )
    source = load_dataset(source_yaml)
    base = load_dataset(ensure_subset(config, source)) if config.subset is not None else source
    for split in ("train", "val"):
        if not base.splits.get(split):
            raise DatasetError(f"{base.yaml_path}: training needs a non-empty {split!r} split")
    trained = base
    if config.background_ratio is not None:
        subset_yaml = write_background_subset(base, config.background_ratio, config.seed, run_dir / "data")
        trained = load_dataset(subset_yaml)
    train = trained.images("train")
    positives = sum(1 for p in train if has_boxes(p))
    return TrainingData(
        yaml_path=trained.yaml_path,
        source=source,
        trained=trained,
        train_positives=positives,
        train_backgrounds=len(train) - positives,
    )
