"""Images and image-level labels for the classifier: listed from a YOLO data set, letterboxed once into
memory, augmented on the fly, drawn class-balanced.

An image is fractured (label 1) when its label file holds at least one box. Every image is letterboxed with
the serving path's own `bonefrac.infer.preprocess.letterbox` (grey 114 padding), so training sees exactly the
geometry the ONNX model is fed in service; only augmentation differs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bonefrac.classify.config import ClassifierAugment
from bonefrac.errors import DatasetError, ImageError
from bonefrac.infer.preprocess import PAD_VALUE, letterbox
from bonefrac.records import DatasetSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledImages:
    """One split's images, their fracture labels, and the letterboxed grey pixels (N, S, S) uint8."""

    paths: tuple[Path, ...]
    labels: np.ndarray  # (N,) int64, 1 = fractured
    pixels: np.ndarray  # (N, S, S) uint8

    @property
    def positives(self) -> int:
        return int(self.labels.sum())

    def __len__(self) -> int:
        return len(self.paths)


def fracture_labels(paths: Sequence[Path]) -> np.ndarray:
    """1 for each image whose YOLO label file holds at least one box, else 0."""
    from bonefrac.train.data_source import has_boxes

    return np.array([1 if has_boxes(p) else 0 for p in paths], dtype=np.int64)


def letterboxed_grey(path: Path, size: int) -> np.ndarray:
    """(size, size) uint8: the image as the serving path letterboxes it, one grey plane (luma for colour)."""
    from bonefrac.imaging.io import load_image

    pixels = load_image(path).pixels
    boxed, _ = letterbox(pixels, size)
    if np.array_equal(boxed[:, :, 0], boxed[:, :, 1]) and np.array_equal(boxed[:, :, 0], boxed[:, :, 2]):
        return np.ascontiguousarray(boxed[:, :, 0])
    luma = boxed.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def load_split(spec: DatasetSpec, split: str, size: int) -> LabelledImages:
    """Every image of a split, decoded and letterboxed once. Unreadable images stop with the file named."""
    paths = spec.images(split)
    if not paths:
        raise DatasetError(f"{spec.yaml_path}: split {split!r} has no images")
    pixels = np.empty((len(paths), size, size), np.uint8)
    for index, path in enumerate(paths):
        try:
            pixels[index] = letterboxed_grey(path, size)
        except ImageError as exc:
            raise DatasetError(
                f"{split} image {path} cannot be used ({exc}); run `bonefrac data check` and leave it out"
            ) from exc
    labels = fracture_labels(paths)
    logger.info("%s: %d images, %d fractured, letterboxed to %d px", split, len(paths), labels.sum(), size)
    return LabelledImages(paths=tuple(paths), labels=labels, pixels=pixels)


def balanced_sample_weights(labels: np.ndarray) -> np.ndarray:
    """Per-image weights that give each class the same total: a sampler then draws both equally often."""
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=2)
    if counts.min() == 0:
        raise DatasetError(
            f"class-balanced training needs fractured and normal images, got {counts[1]} fractured and "
            f"{counts[0]} normal"
        )
    return (1.0 / counts[labels]).astype(np.float64)


def default_epoch_images(labels: np.ndarray) -> int:
    """Images per balanced epoch when the config does not say: twice the positives (each seen about once)."""
    return int(2 * max(int(np.asarray(labels).sum()), 1))


class AugmentedImages:
    """A torch Dataset over LabelledImages: (1, S, S) float32 in [0, 1] after augmentation, and the label."""

    def __init__(self, images: LabelledImages, augment: ClassifierAugment | None) -> None:
        self.images = images
        self.augment = augment
        self._geometry = _geometry_transform(augment) if augment is not None else None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        import torch

        pixels = torch.from_numpy(self.images.pixels[index]).unsqueeze(0)  # (1, S, S) uint8
        if self._geometry is not None:
            pixels = self._geometry(pixels)
        x = pixels.float().div_(255.0)
        if self.augment is not None:
            x = _photometric(x, self.augment)
        return x, torch.tensor(float(self.images.labels[index]))


def _geometry_transform(augment: ClassifierAugment) -> Any:
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.RandomHorizontalFlip(augment.fliplr),
            v2.RandomVerticalFlip(augment.flipud),
            v2.RandomAffine(
                degrees=augment.degrees,
                translate=(augment.translate, augment.translate),
                scale=augment.scale,
                fill=PAD_VALUE,
            ),
        ]
    )


def _photometric(x: Any, augment: ClassifierAugment) -> Any:
    """Exposure, contrast and gamma jitter on a (1, S, S) float image in [0, 1]."""
    import torch

    brightness = 1.0 + (torch.rand(()) * 2 - 1) * augment.brightness
    contrast = 1.0 + (torch.rand(()) * 2 - 1) * augment.contrast
    low, high = math.log(augment.gamma[0]), math.log(augment.gamma[1])
    gamma = torch.exp(low + torch.rand(()) * (high - low))
    mean = x.mean()
    x = ((x - mean) * contrast + mean) * brightness
    return x.clamp_(0.0, 1.0).pow_(gamma)
