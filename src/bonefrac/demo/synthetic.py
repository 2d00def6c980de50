"""Synthetic demo radiographs from the project's generator (`bonefrac.data.synth`): not real patients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bonefrac.data.synth import render_radiograph
from bonefrac.demo.folder import DemoImage, DemoManifest, finish_demo_folder, label_name, reset_demo_folder
from bonefrac.errors import ConfigError

FRACTURES_PER_IMAGE = (1, 1, 2, 0, 0)  # like the FracAtlas pick: three fractured images, two without
FILE_PREFIX = "synthetic_"
SOURCE = (
    "bonefrac's synthetic generator (bonefrac.data.synth): drawn bone shapes and fracture lines, "
    "not real patients"
)


def synthetic_name(index: int) -> str:
    """synthetic_01.png, synthetic_02.png, ...: the word in every file name."""
    return f"{FILE_PREFIX}{index:02d}.png"


def write_synthetic_demo(out: Path, seed: int = 0, size: int = 512) -> DemoManifest:
    """Five synthetic images with their labels in `out` (reset first), with demo.json and a README."""
    if not 64 <= size <= 2048:
        raise ConfigError(f"size must be in 64..2048 pixels, got {size}")
    out = reset_demo_folder(out)
    rng = np.random.default_rng(seed)
    images = []
    for index, fractures in enumerate(FRACTURES_PER_IMAGE, start=1):
        pixels, boxes = render_radiograph(rng, size, fractures)
        name = synthetic_name(index)
        Image.fromarray(pixels).save(out / name)
        lines = [f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for cx, cy, w, h in boxes]
        (out / label_name(name)).write_text("".join(lines), encoding="utf-8")
        note = f"synthetic, {len(boxes)} fracture line{'s' if len(boxes) != 1 else ''}"
        images.append(DemoImage(file=name, label=label_name(name), boxes=len(boxes), note=note))
    rule = (
        f"{len(FRACTURES_PER_IMAGE)} images of {size} x {size} px from seed {seed}, with "
        f"{', '.join(map(str, FRACTURES_PER_IMAGE))} fracture lines. They show the page working; a model "
        "trained on real radiographs says little about them."
    )
    manifest = DemoManifest(kind="synthetic", source=SOURCE, rule=rule, credit=None, images=images)
    return finish_demo_folder(out, manifest)
