"""Read YOLO data sets: data.yaml (folders, .txt lists, Roboflow exports); labels by images->labels."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from bonefrac.errors import DatasetError
from bonefrac.records import DatasetSpec

IMAGE_SUFFIXES = frozenset({".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp", ".dng", ".mpo"})
SPLIT_KEYS = {"train": "train", "val": "val", "valid": "val", "test": "test"}


def label_path_for(image_path: Path) -> Path:
    """The label file the YOLO convention pairs with an image: last /images/ -> /labels/, suffix .txt."""
    parts = list(image_path.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image_path.with_suffix(".txt")


def _read_yaml(yaml_path: Path) -> dict[str, Any]:
    if not yaml_path.is_file():
        raise DatasetError(f"data.yaml not found: {yaml_path}")
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{yaml_path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DatasetError(
            f"{yaml_path} must be a mapping with train/val/test and names, got {type(data).__name__}"
        )
    return data


def _class_names(data: dict[str, Any], yaml_path: Path) -> tuple[str, ...]:
    names = data.get("names")
    if names is None:
        nc = data.get("nc")
        if isinstance(nc, int) and nc > 0:
            return tuple(f"class{i}" for i in range(nc))
        raise DatasetError(f"{yaml_path} has no 'names' (a list, or a mapping of class id to name)")
    if isinstance(names, list):
        result = tuple(str(n) for n in names)
    elif isinstance(names, dict):
        try:
            ids = sorted(int(k) for k in names)
        except (TypeError, ValueError) as exc:
            raise DatasetError(
                f"{yaml_path}: 'names' mapping keys must be integers 0..N-1, got {list(names)}"
            ) from exc
        if ids != list(range(len(ids))):
            raise DatasetError(f"{yaml_path}: 'names' ids must be 0..{len(ids) - 1} without gaps, got {ids}")
        result = tuple(str(names[k] if k in names else names[str(k)]) for k in ids)
    else:
        raise DatasetError(f"{yaml_path}: 'names' must be a list or a mapping, got {type(names).__name__}")
    nc = data.get("nc")
    if nc is not None and nc != len(result):
        raise DatasetError(f"{yaml_path}: nc is {nc} but 'names' lists {len(result)} classes")
    if not result:
        raise DatasetError(f"{yaml_path}: 'names' is empty; at least one class is needed")
    return result


def _dataset_root(data: dict[str, Any], yaml_path: Path) -> Path:
    folder = yaml_path.parent.resolve()
    raw = data.get("path")
    if raw in (None, ""):
        return folder
    root = Path(str(raw)).expanduser()
    return root if root.is_absolute() else (folder / root).resolve()


def _resolve_entry(entry: str, root: Path) -> Path:
    """A split entry as a path; Roboflow writes '../train/images' meaning '<root>/train/images'."""
    path = Path(entry).expanduser()
    if path.is_absolute():
        return path
    candidate = (root / path).resolve()
    if not candidate.exists() and entry.startswith("../"):
        stripped = (root / entry[3:]).resolve()
        if stripped.exists():
            return stripped
    return candidate


def _absolute(path: Path) -> Path:
    """Absolute and normalised, but symlinks kept: a subset's linked images/ must keep its own labels/."""
    return Path(os.path.abspath(path))


def _images_in_folder(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def _images_in_list(list_file: Path) -> list[Path]:
    images = []
    for line in list_file.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line)
        images.append(_absolute(p if p.is_absolute() else list_file.parent / p))
    return images


def _split_images(entries: Iterable[str], root: Path, split: str, yaml_path: Path) -> tuple[Path, ...]:
    images: list[Path] = []
    for entry in entries:
        path = _resolve_entry(str(entry), root)
        if path.is_dir():
            images.extend(_images_in_folder(path))
        elif path.is_file() and path.suffix.lower() == ".txt":
            images.extend(_images_in_list(path))
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            images.append(path)
        else:
            raise DatasetError(
                f"{yaml_path}: split {split!r} points to {path}, which is neither a folder of images "
                "nor a .txt list of image paths"
            )
    return tuple(sorted({_absolute(p) for p in images}))


def fingerprint(splits: dict[str, tuple[Path, ...]], class_names: tuple[str, ...]) -> str:
    """sha256 over class names, and per split: image file names, byte sizes and label contents."""
    digest = hashlib.sha256()
    digest.update("\n".join(class_names).encode())
    for split in sorted(splits):
        digest.update(f"\0split:{split}\0".encode())
        for image in splits[split]:
            try:
                size = os.stat(image).st_size
            except OSError:
                size = -1
            digest.update(f"{image.name}\0{size}\0".encode())
            label = label_path_for(image)
            try:
                digest.update(label.read_bytes())
            except OSError:
                digest.update(b"\0no-label\0")
    return digest.hexdigest()


def load_dataset(yaml_path: Path | str) -> DatasetSpec:
    """Read a data.yaml into a DatasetSpec; raise DatasetError when the data set cannot be read at all."""
    yaml_path = Path(yaml_path).expanduser().resolve()
    data = _read_yaml(yaml_path)
    class_names = _class_names(data, yaml_path)
    root = _dataset_root(data, yaml_path)
    splits: dict[str, tuple[Path, ...]] = {}
    for key, split in SPLIT_KEYS.items():
        raw = data.get(key)
        if raw in (None, ""):
            continue
        if split in splits:
            raise DatasetError(f"{yaml_path}: both 'val' and 'valid' are given; keep one")
        entries = raw if isinstance(raw, list) else [raw]
        splits[split] = _split_images(entries, root, split, yaml_path)
    if not splits:
        raise DatasetError(f"{yaml_path}: no split found; expected keys train, val (or valid) and test")
    if not any(splits.values()):
        raise DatasetError(f"{yaml_path}: no images found in any split ({', '.join(splits)})")
    return DatasetSpec(
        yaml_path=yaml_path,
        root=root,
        splits=splits,
        class_names=class_names,
        fingerprint=fingerprint(splits, class_names),
    )


def read_label_lines(label_path: Path) -> list[str]:
    """Non-empty lines of a label file ([] for an empty file); a UTF-8 byte order mark is dropped, as the data
    check does."""
    text = label_path.read_text(encoding="utf-8-sig", errors="replace")
    return [ln for ln in text.splitlines() if ln.strip()]
