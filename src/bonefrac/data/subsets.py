"""`bonefrac data subset`: a new data.yaml over the same images, with filtered splits and rewritten labels.

Layout written into out_dir (no image is copied):
    images/<split>/<name>   symlinks to the original images
    labels/<split>/<stem>.txt   rewritten labels (YOLO finds them by replacing /images/ with /labels/)
    <split>.txt             the split's image list (./images/<split>/<name>), data.yaml, subset.json
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import Field

from bonefrac.config import StrictModel
from bonefrac.data import duplicates as dup
from bonefrac.data.image_checks import scan_image
from bonefrac.data.label_checks import scan_label
from bonefrac.data.parallel import map_files
from bonefrac.data.yolo_format import label_path_for
from bonefrac.errors import ConfigError
from bonefrac.records import DatasetSpec

log = logging.getLogger(__name__)

WRITTEN_NAMES = ("images", "labels", "data.yaml", "subset.json", "train.txt", "val.txt", "test.txt")


class SubsetOptions(StrictModel):
    """Which images and boxes a subset keeps (filters apply to all splits unless `filter_splits` says)."""

    positive_only: bool = False  # keep only images with at least one box (after dropping classes)
    drop_classes: tuple[str | int, ...] = ()  # class names or ids whose boxes are removed
    merge_classes: str | None = None  # all remaining classes become one class of this name
    drop_duplicates_of_train: bool = False  # val/test images that are (near-)copies of train images go
    background_ratio: float | None = Field(None, ge=0.0, le=1.0)  # share of background images kept
    seed: int = 0
    filter_splits: tuple[str, ...] | None = None  # where positive_only/background_ratio apply (None: all)


def _class_mapping(names: Sequence[str], options: SubsetOptions) -> tuple[dict[int, int], tuple[str, ...]]:
    """Old class id -> new class id (dropped classes absent), and the new class names."""
    dropped: set[int] = set()
    for item in options.drop_classes:
        text = str(item)
        if text in names:
            dropped.add(names.index(text))
        elif text.isdigit() and int(text) < len(names):
            dropped.add(int(text))
        else:
            raise ConfigError(
                f"drop_classes: {text!r} is not a class of this data set; its classes: {list(names)}"
            )
    kept = [i for i in range(len(names)) if i not in dropped]
    if not kept:
        raise ConfigError(f"drop_classes removes every class ({list(names)}); keep at least one")
    if options.merge_classes is not None:
        if not options.merge_classes.strip():
            raise ConfigError("merge_classes must be a class name, got an empty string")
        return {old: 0 for old in kept}, (options.merge_classes,)
    return {old: new for new, old in enumerate(kept)}, tuple(names[i] for i in kept)


def duplicates_of_train(spec: DatasetSpec, workers: int | None = None) -> set[Path]:
    """Images outside train that are byte-identical to, or confirmed near-duplicates of, a train image."""
    if "train" not in spec.splits:
        raise ConfigError(
            f"drop_duplicates_of_train needs a train split; this data set has {list(spec.splits)}"
        )
    paths = [p for split in spec.splits for p in spec.splits[split]]
    scans = dict(zip(paths, map_files(scan_image, paths, workers), strict=True))
    by_split = {split: [scans[p] for p in spec.splits[split]] for split in spec.splits}
    duplicates: set[Path] = set()
    pairs = [p for group in dup.exact_duplicate_groups(by_split) for p in dup.pairs_in_group(group)]
    pairs += dup.near_copies(by_split, workers)
    for pair in pairs:
        if pair.split_a == "train" and pair.split_b != "train":
            duplicates.add(pair.b)
        elif pair.split_b == "train" and pair.split_a != "train":
            duplicates.add(pair.a)
    return duplicates


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out_dir} is not empty; choose an empty folder or pass overwrite")
        if not (out_dir / "subset.json").is_file():
            raise ConfigError(f"{out_dir} is not empty and holds no subset.json; refusing to overwrite it")
        for name in WRITTEN_NAMES:
            target = out_dir / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _link_name(image: Path, taken: set[str]) -> str:
    """The image's file name, made unique within its split by a short hash of its folder when needed."""
    name = image.name
    if name.lower() in taken:
        tag = hashlib.sha256(str(image.parent).encode()).hexdigest()[:8]
        name = f"{image.stem}_{tag}{image.suffix}"
    taken.add(name.lower())
    return name


def write_subset(
    spec: DatasetSpec,
    out_dir: Path,
    options: SubsetOptions,
    workers: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the subset described by `options` into out_dir; return its data.yaml."""
    out_dir = Path(out_dir).expanduser().absolute()
    mapping, names = _class_mapping(spec.class_names, options)
    if options.positive_only and options.background_ratio is not None:
        raise ConfigError(
            "positive_only keeps no background image, so background_ratio cannot apply; pick one"
        )
    unknown = set(options.filter_splits or ()) - set(spec.splits)
    if unknown:
        raise ConfigError(f"filter_splits names {sorted(unknown)}, not in this data set: {list(spec.splits)}")
    leaked = duplicates_of_train(spec, workers) if options.drop_duplicates_of_train else set()
    _prepare_out_dir(out_dir, overwrite)
    manifest: dict[str, dict[str, int]] = {}
    entries: dict[str, str] = {}
    for split, images in spec.splits.items():
        filtering = options.filter_splits is None or split in options.filter_splits
        kept: list[tuple[Path, list[str]]] = []
        backgrounds: list[tuple[Path, list[str]]] = []
        counts = {"source_images": len(images), "dropped_duplicates": 0}
        bad_lines = 0
        for image in images:
            if image in leaked and split != "train":
                counts["dropped_duplicates"] += 1
                continue
            label = scan_label(label_path_for(image), len(spec.class_names))
            bad_lines += sum(1 for p in label.problems if p.severity == "error")
            lines = [
                f"{mapping[int(b[0])]} {b[1]:.6f} {b[2]:.6f} {b[3]:.6f} {b[4]:.6f}"
                for b in label.boxes
                if int(b[0]) in mapping
            ]
            (kept if lines else backgrounds).append((image, lines))
        if bad_lines:
            log.warning("%s: %d malformed label lines left out (run `bonefrac data check`)", split, bad_lines)
        counts["dropped_backgrounds"] = 0
        if filtering and options.positive_only:
            counts["dropped_backgrounds"] = len(backgrounds)
            backgrounds = []
        elif filtering and options.background_ratio is not None:
            keep = round(options.background_ratio * len(backgrounds))
            chosen = sorted(random.Random(f"{options.seed}:{split}").sample(range(len(backgrounds)), keep))
            counts["dropped_backgrounds"] = len(backgrounds) - keep
            backgrounds = [backgrounds[i] for i in chosen]
        selected = sorted(kept + backgrounds, key=lambda item: str(item[0]))
        counts.update(images=len(selected), backgrounds=len(backgrounds), with_boxes=len(kept))
        counts["boxes"] = sum(len(lines) for _, lines in selected)
        manifest[split] = counts
        if not selected:
            log.warning("split %s keeps no image and is left out of the subset", split)
            continue
        _write_split(out_dir, split, selected)
        entries[split] = f"{split}.txt"
    if "train" in spec.splits and "train" not in entries:
        raise ConfigError("the subset keeps no training image; loosen the options")
    return _write_yaml(spec, out_dir, options, names, entries, manifest)


def _write_split(out_dir: Path, split: str, selected: Sequence[tuple[Path, list[str]]]) -> None:
    image_dir, label_dir = out_dir / "images" / split, out_dir / "labels" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    listed = []
    for image, lines in selected:
        name = _link_name(image, taken)
        (image_dir / name).symlink_to(image.resolve())
        (label_dir / f"{Path(name).stem}.txt").write_text("".join(f"{line}\n" for line in lines))
        listed.append(f"./images/{split}/{name}")
    (out_dir / f"{split}.txt").write_text("\n".join(listed) + "\n")


def _write_yaml(
    spec: DatasetSpec,
    out_dir: Path,
    options: SubsetOptions,
    names: tuple[str, ...],
    entries: dict[str, str],
    manifest: dict[str, dict[str, int]],
) -> Path:
    yaml_path = out_dir / "data.yaml"
    header = (
        f"# Subset of {spec.yaml_path} (fingerprint {spec.fingerprint[:12]}), by bonefrac data subset.\n"
        f"# Options: {options.model_dump_json()}\n"
        "# Images are symlinks to the originals; labels/ holds the rewritten labels.\n"
    )
    body = {**entries, "names": dict(enumerate(names))}
    yaml_path.write_text(header + yaml.safe_dump(body, sort_keys=False))
    record = {
        "source": str(spec.yaml_path),
        "source_fingerprint": spec.fingerprint,
        "options": options.model_dump(mode="json"),
        "class_names": list(names),
        "splits": manifest,
    }
    (out_dir / "subset.json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("wrote subset %s: %s", yaml_path, {s: m["images"] for s, m in manifest.items()})
    return yaml_path
