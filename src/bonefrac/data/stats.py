"""Per-split statistics: image and box counts, background share, box and image size distributions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from bonefrac.data.image_checks import ImageScan
from bonefrac.data.label_checks import LabelScan
from bonefrac.records import SplitStats

QUANTILES = {"min": 0.0, "p5": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95, "max": 1.0}


def distribution(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Quantiles and mean of `values` ({} when there are none)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return {}
    result = {name: float(np.quantile(array, q)) for name, q in QUANTILES.items()}
    result["mean"] = float(array.mean())
    return {k: round(v, 6) for k, v in result.items()}


def box_arrays(labels: Sequence[LabelScan], images: Sequence[ImageScan]) -> dict[str, np.ndarray]:
    """Per box: class, normalised centre, width, height and area, and aspect (w/h in pixels)."""
    rows = []
    for label, image in zip(labels, images, strict=True):
        for box in label.boxes:
            ratio = image.width / image.height if image.height else 1.0
            rows.append((box[0], box[1], box[2], box[3], box[4], box[3] * ratio / box[4]))
    array = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    return {
        "class_id": array[:, 0].astype(np.int64),
        "cx": array[:, 1],
        "cy": array[:, 2],
        "width": array[:, 3],
        "height": array[:, 4],
        "area": array[:, 3] * array[:, 4],
        "aspect": array[:, 5],
    }


def split_stats(
    images: Sequence[ImageScan], labels: Sequence[LabelScan], class_names: Sequence[str]
) -> SplitStats:
    """Counts and distributions for one split (`images` and `labels` in the same order)."""
    per_image = np.array([len(label.boxes) for label in labels], dtype=np.int64)
    boxes = box_arrays(labels, images)
    per_class = Counter(boxes["class_id"].tolist())
    decoded = [s for s in images if s.width and s.height]
    sizes = Counter(f"{s.width}x{s.height}" for s in decoded)
    return SplitStats(
        images=len(images),
        with_boxes=int((per_image > 0).sum()),
        backgrounds=int((per_image == 0).sum()),
        boxes=int(per_image.sum()),
        boxes_per_class={name: int(per_class.get(i, 0)) for i, name in enumerate(class_names)},
        missing_labels=sum(1 for label in labels if not label.exists),
        unreadable_images=sum(1 for s in images if s.status == "corrupt"),
        boxes_per_image=distribution(per_image) if len(per_image) else {},
        box_size={k: distribution(boxes[k]) for k in ("width", "height", "area", "aspect")},
        image_size={
            "width": distribution([s.width for s in decoded]),
            "height": distribution([s.height for s in decoded]),
            "most_common": [{"size": size, "images": n} for size, n in sizes.most_common(5)],
            "modes": dict(Counter(s.mode for s in decoded)),
        },
    )
