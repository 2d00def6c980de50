"""Synthetic radiograph-like images with YOLO labels: bones, soft-tissue noise, fracture lines.

Deterministic for a seed and fast, so tests and demos never need real data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from bonefrac.errors import ConfigError

SPLIT_SHARES = (("train", 0.6), ("val", 0.2), ("test", 0.2))


@dataclass(frozen=True)
class SynthSummary:
    """What `write_synthetic_dataset` wrote."""

    yaml_path: Path
    images: dict[str, int]
    boxes: int
    backgrounds: int


def _bone_polygon(
    cx: float, cy: float, length: float, width: float, angle: float
) -> list[tuple[float, float]]:
    dx, dy = math.cos(angle), math.sin(angle)
    nx, ny = -dy, dx
    h, w = length / 2, width / 2
    return [
        (cx + dx * h + nx * w, cy + dy * h + ny * w),
        (cx + dx * h - nx * w, cy + dy * h - ny * w),
        (cx - dx * h - nx * w, cy - dy * h - ny * w),
        (cx - dx * h + nx * w, cy - dy * h + ny * w),
    ]


def render_radiograph(
    rng: np.random.Generator, size: int, fractures: int
) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """One grayscale image (H, W) uint8 and its fracture boxes as normalised (cx, cy, w, h)."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    # soft tissue: a broad, faint ellipse
    margin = size * rng.uniform(0.05, 0.2)
    draw.ellipse((margin, margin * 0.5, size - margin, size - margin * 0.5), fill=int(rng.integers(35, 60)))
    bones = []
    for _ in range(int(rng.integers(1, 3)) + (1 if fractures > 1 else 0)):
        cx, cy = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size
        length, width = rng.uniform(0.55, 0.85) * size, rng.uniform(0.08, 0.14) * size
        angle = rng.uniform(0, math.pi)
        draw.polygon(_bone_polygon(cx, cy, length, width, angle), fill=int(rng.integers(150, 200)))
        draw.polygon(
            _bone_polygon(cx, cy, length * 0.96, width * 0.55, angle), fill=int(rng.integers(110, 140))
        )
        bones.append((cx, cy, length, width, angle))
    boxes = []
    for k in range(fractures):
        cx, cy, length, width, angle = bones[k % len(bones)]
        t = rng.uniform(-0.3, 0.3) * length
        dx, dy = math.cos(angle), math.sin(angle)
        px, py = cx + dx * t, cy + dy * t
        tilt = angle + math.pi / 2 + rng.uniform(-0.5, 0.5)
        half = width * 0.75
        x0, y0 = px - math.cos(tilt) * half, py - math.sin(tilt) * half
        x1, y1 = px + math.cos(tilt) * half, py + math.sin(tilt) * half
        draw.line((x0, y0, x1, y1), fill=int(rng.integers(10, 40)), width=max(2, size // 64))
        pad = size * 0.03
        bx0, bx1 = max(0.0, min(x0, x1) - pad), min(size - 1.0, max(x0, x1) + pad)
        by0, by1 = max(0.0, min(y0, y1) - pad), min(size - 1.0, max(y0, y1) + pad)
        boxes.append(((bx0 + bx1) / 2 / size, (by0 + by1) / 2 / size, (bx1 - bx0) / size, (by1 - by0) / size))
    blurred = canvas.filter(ImageFilter.GaussianBlur(radius=size / 256))
    pixels = np.asarray(blurred, dtype=np.float32)
    pixels += rng.normal(0, 6, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8), boxes


def write_synthetic_dataset(
    out_dir: Path | str, images: int = 30, seed: int = 0, size: int = 128, background_share: float = 0.3
) -> SynthSummary:
    """Write images/{train,val,test}, labels/... and data.yaml (class 0: fractured) under out_dir."""
    if images < 3:
        raise ConfigError(f"images must be at least 3 (one per split), got {images}")
    if not 32 <= size <= 4096:
        raise ConfigError(f"size must be in 32..4096 pixels, got {size}")
    if not 0.0 <= background_share <= 1.0:
        raise ConfigError(f"background_share must be in 0..1, got {background_share}")
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    counts = [max(1, round(images * share)) for _, share in SPLIT_SHARES]
    counts[0] = images - sum(counts[1:])
    written: dict[str, int] = {}
    total_boxes = backgrounds = 0
    index = 0
    for (split, _), count in zip(SPLIT_SHARES, counts, strict=True):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            is_background = rng.random() < background_share
            n_fractures = 0 if is_background else int(rng.integers(1, 3))
            pixels, boxes = render_radiograph(rng, size, n_fractures)
            stem = f"synth_{index:05d}"
            Image.fromarray(pixels).save(out / "images" / split / f"{stem}.png")
            lines = [f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}" for cx, cy, w, h in boxes]
            (out / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            total_boxes += len(boxes)
            backgrounds += int(not boxes)
            index += 1
        written[split] = count
    yaml_path = out / "data.yaml"
    header = f"# Synthetic radiographs made by bonefrac (seed {seed}); not real patients.\n"
    body = {"train": "images/train", "val": "images/val", "test": "images/test", "names": {0: "fractured"}}
    yaml_path.write_text(header + yaml.safe_dump(body, sort_keys=False))
    return SynthSummary(yaml_path=yaml_path, images=written, boxes=total_boxes, backgrounds=backgrounds)


def _shear(image: Image.Image, amount: float) -> Image.Image:
    offset = -amount * image.height / 2
    return image.transform(
        image.size, Image.Transform.AFFINE, (1, amount, offset, 0, 1, 0), Image.Resampling.BILINEAR
    )


def _crop_each_side(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    box = (round(w * share), round(h * share), round(w * (1 - share)), round(h * (1 - share)))
    return image.crop(box).resize(image.size, Image.Resampling.BILINEAR)


def _rotate(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BILINEAR)


# What data sets do to copies of one radiograph: export tools resize and re-encode, augmentation tools turn,
# shear, crop, pad and re-expose, viewers mirror. `planted_copy` applies one; tests and benchmarks plant them.
COPY_KINDS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resized": lambda im: im.resize((im.width * 4 // 5, im.height * 4 // 5), Image.Resampling.LANCZOS),
    "mirrored": ImageOps.mirror,
    "turned": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "upside_down": lambda im: im.transpose(Image.Transpose.ROTATE_180),
    "rotated": lambda im: _rotate(im, 9),
    "sheared": lambda im: _shear(im, 0.2),
    "cropped": lambda im: _crop_each_side(im, 0.08),
    "padded": lambda im: ImageOps.pad(im, (im.width + im.width // 3, im.height), color=0),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.25),
    "gamma": lambda im: im.point(lambda v: int(255 * (v / 255) ** 0.7)),
    "rotated_sheared_and_brighter": lambda im: ImageEnhance.Brightness(_shear(_rotate(im, -6), 0.1)).enhance(
        1.15
    ),
    "mirrored_and_rotated": lambda im: _rotate(ImageOps.mirror(im), -8),
}


def planted_copy(image: Image.Image, kind: str) -> Image.Image:
    """A copy of `image` changed the way `kind` names (one of COPY_KINDS)."""
    if kind not in COPY_KINDS:
        raise ConfigError(f"unknown copy kind {kind!r}; expected one of {', '.join(COPY_KINDS)}")
    return COPY_KINDS[kind](image)
