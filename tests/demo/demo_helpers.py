"""A tiny FracAtlas look-alike: synthetic pixels in FracAtlas's layout, with its metadata columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HEADER = (
    "image_id,hand,leg,hip,shoulder,mixed,hardware,multiscan,fractured,fracture_count,frontal,lateral,oblique"
)
# (id, region, mixed, fractured in metadata, boxes in the label file)
ROWS = (
    ("IMG0000010.jpg", "hand", 0, 1, 1),  # a train id: not in images/test, never picked
    ("IMG0003300.jpg", "hand", 0, 1, 0),  # metadata says fractured, label is empty: skipped
    ("IMG0003310.jpg", "hand", 1, 1, 1),  # fractured but mixed: not the hand example
    ("IMG0003320.jpg", "hand", 0, 1, 1),  # the hand example
    ("IMG0003305.jpg", "leg", 0, 1, 2),  # the leg example (lowest leg id)
    ("IMG0003330.jpg", "leg", 0, 1, 1),
    ("IMG0003301.jpg", "hand", 0, 0, 0),  # the hand negative
    ("IMG0003302.jpg", "leg", 0, 0, 1),  # negative in metadata, one box: skipped
    ("IMG0003303.jpg", "leg", 0, 0, 0),  # the leg negative
)  # no hip or shoulder fracture: those regions give nothing
EXPECTED = ["IMG0003320.jpg", "IMG0003305.jpg", "IMG0003301.jpg", "IMG0003303.jpg"]


def write_fake_fracatlas(root: Path) -> Path:
    """FracAtlas's folders and dataset.csv with a few synthetic JPEGs; only test ids get image files."""
    rng = np.random.default_rng(0)
    lines = [HEADER]
    for image_id, region, mixed, fractured, boxes in ROWS:
        flags = [int(region == r) for r in ("hand", "leg", "hip", "shoulder")]
        lines.append(
            ",".join([image_id, *map(str, flags), str(mixed), "0,0", str(fractured), str(boxes), "1,0,0"])
        )
        split = "train" if int(image_id[3:10]) < 3296 else "test"
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, (48, 40), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / split / image_id, quality=90)
        label = "".join(f"0 0.5 0.5 0.{k + 1} 0.2\n" for k in range(boxes))
        (root / "labels" / split / image_id.replace(".jpg", ".txt")).write_text(label)
    (root / "original_metadata").mkdir(parents=True)
    (root / "original_metadata" / "dataset.csv").write_text("\n".join(lines) + "\n")
    return root
