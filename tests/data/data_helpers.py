"""Helpers for hand-made image and label fixtures (imported by tests/data tests and conftest)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from bonefrac.data.synth import render_radiograph


def radiograph(seed: int, size: int = 96) -> Image.Image:
    """A synthetic grayscale radiograph; different seeds give clearly different images."""
    pixels, _ = render_radiograph(np.random.default_rng(seed), size, fractures=1)
    return Image.fromarray(pixels)


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def write_image(path: Path, image: Image.Image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def write_label(image_path: Path, lines: list[str] | None) -> None:
    """The label beside the YOLO convention's labels/ folder; None writes no file at all."""
    if lines is None:
        return
    parts = list(image_path.parts)
    parts[len(parts) - 1 - parts[::-1].index("images")] = "labels"
    label = Path(*parts).with_suffix(".txt")
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_text("".join(f"{line}\n" for line in lines))


BOX = "0 0.500000 0.500000 0.200000 0.200000"
OTHER_BOX = "0 0.200000 0.200000 0.100000 0.100000"
