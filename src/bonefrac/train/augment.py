"""The `augment.photometric` block as albumentations transforms, for ultralytics' `augmentations` argument.

Radiographs from other scanners and viewers differ in exposure, contrast, gamma, JPEG quality, sharpness and
noise; these transforms change pixels only (boxes stay where they are). Crops and rotations are ultralytics'
own `scale`, `translate` and `degrees`. When given, the list replaces ultralytics' default albumentations set
(1 % each of blur, median blur, grey and CLAHE).
"""

from __future__ import annotations

import os
from typing import Any

from bonefrac.errors import ConfigError
from bonefrac.train.config import PhotometricAugment


def _albumentations() -> Any:
    # albumentations looks up its newest version online at import unless told not to (offline: no lookups)
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    try:
        import albumentations
    except ImportError as exc:
        raise ConfigError(
            "augment.photometric needs the albumentations package, which is not installed; "
            "install bonefrac's train extra (pip install -e '.[train]') or remove the block"
        ) from exc
    return albumentations


def photometric_transforms(block: PhotometricAugment) -> list[Any]:
    """One albumentations transform per switched-on setting, in a fixed order (exposure first, JPEG last)."""
    A = _albumentations()  # noqa: N806 - albumentations' own alias
    transforms: list[Any] = []
    if block.brightness_contrast and block.brightness_contrast_p:
        limit = block.brightness_contrast
        transforms.append(
            A.RandomBrightnessContrast(
                brightness_limit=(-limit, limit),
                contrast_limit=(-limit, limit),
                p=block.brightness_contrast_p,
            )
        )
    if block.gamma and block.gamma_p:
        low, high = round(100 * (1 - block.gamma)), round(100 * (1 + block.gamma))
        transforms.append(A.RandomGamma(gamma_limit=(low, high), p=block.gamma_p))
    if block.blur and block.blur_p:
        transforms.append(A.GaussianBlur(blur_limit=(3, block.blur), p=block.blur_p))
    if block.noise and block.noise_p:
        # one noise field for all three channels: grey radiographs stay grey
        transforms.append(A.GaussNoise(std_range=(0.0, block.noise), per_channel=False, p=block.noise_p))
    if block.jpeg_quality and block.jpeg_p:
        transforms.append(A.ImageCompression(quality_range=tuple(block.jpeg_quality), p=block.jpeg_p))
    return transforms
