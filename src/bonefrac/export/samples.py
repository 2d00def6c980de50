"""Images for the parity check and int8 calibration: a data set split, a folder, or synthetic images."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bonefrac.errors import ExportError, ImageError
from bonefrac.records import Radiograph

logger = logging.getLogger(__name__)

DEFAULT_COUNT = 8
# (height, width) of the synthetic parity images: portrait, landscape, square, tiny and very wide, so the
# letterbox pads on every side and both shrinks and enlarges
SYNTHETIC_SHAPES = (
    (512, 384),
    (300, 520),
    (256, 256),
    (48, 64),
    (120, 700),
    (900, 640),
    (640, 640),
    (97, 131),
)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".dcm", ".dicom"}


def synthetic_samples(count: int = DEFAULT_COUNT, seed: int = 0) -> list[tuple[str, Radiograph]]:
    """Deterministic synthetic radiographs of varied shapes (the same for a seed)."""
    from bonefrac.data.synth import render_radiograph

    rng = np.random.default_rng(seed)
    samples = []
    for k in range(count):
        height, width = SYNTHETIC_SHAPES[k % len(SYNTHETIC_SHAPES)]
        gray, _ = render_radiograph(rng, max(height, width), fractures=1 + k % 2)
        gray = np.ascontiguousarray(gray[:height, :width])
        pixels = np.repeat(gray[:, :, None], 3, axis=2)
        samples.append((f"synthetic_{k}_{height}x{width}", Radiograph(pixels, "synthetic")))
    return samples


def _image_files(source: Path, split: str) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if source.suffix.lower() in {".yaml", ".yml"}:
        from bonefrac.data.yolo_format import load_dataset

        spec = load_dataset(source)
        if split not in spec.splits:
            raise ExportError(f"{source} has no split {split!r}; it has {sorted(spec.splits)}")
        return list(spec.images(split))
    raise ExportError(f"parity data must be a data.yaml or a folder of images, got {source}")


def load_samples(
    source: Path | None, *, split: str = "val", count: int = DEFAULT_COUNT
) -> list[tuple[str, Radiograph]]:
    """Up to `count` images from a data.yaml split or a folder (evenly spread, sorted), else synthetics."""
    if source is None:
        return synthetic_samples(count)
    from bonefrac.imaging.io import load_image

    source = Path(source)
    if not source.exists():
        raise ExportError(f"parity data not found: {source} (give a data.yaml or a folder of images)")
    files = _image_files(source, split)
    if not files:
        raise ExportError(f"no images found in {source} (split {split!r}) for the parity check")
    picks = sorted({int(i) for i in np.linspace(0, len(files) - 1, num=min(count, len(files)))})
    others = [i for i in range(len(files)) if i not in set(picks)]
    samples: list[tuple[str, Radiograph]] = []
    for i in picks + others:  # an unreadable file is skipped and replaced by the next readable one
        if len(samples) == len(picks):
            break
        try:
            samples.append((files[i].name, load_image(files[i])))
        except ImageError as exc:
            logger.warning("parity image skipped: %s", exc)
    if not samples:
        raise ExportError(f"none of the images in {source} (split {split!r}) could be read")
    return samples


CALIBRATION_COUNT = 64


def calibration_samples(
    parity_source: Path | None, parity: list[tuple[str, Radiograph]], count: int = CALIBRATION_COUNT
) -> list[tuple[str, Radiograph]]:
    """Images to calibrate int8 on: `count` of the train split when the parity data is a data.yaml with one
    (radiographs of the training distribution, never the split the model is judged on), else the parity
    images themselves (a folder, or synthetic images)."""
    if parity_source is not None and Path(parity_source).suffix.lower() in {".yaml", ".yml"}:
        from bonefrac.data.yolo_format import load_dataset

        if "train" in load_dataset(Path(parity_source)).splits:
            return load_samples(Path(parity_source), split="train", count=count)
        logger.warning("%s has no train split; int8 is calibrated on the parity images", parity_source)
    return parity
