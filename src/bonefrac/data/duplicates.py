"""Duplicates: identical files, copies of one radiograph (found by `copies`), their groups, conflicts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bonefrac.data.image_checks import ImageScan
from bonefrac.data.label_checks import LabelScan
from bonefrac.geometry import cxcywh_to_xyxy, iou_matrix

MIN_IOU = 0.5  # boxes of two copies that overlap less than this (in one frame) disagree
MIN_VISIBLE = 0.5  # share of a mapped box that must stay inside the other image for it to be compared
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # the 2x3 affine of a copy whose coordinates did not change
Affine = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class DuplicatePair:
    """Two files holding one radiograph: `exact` (same bytes) or a copy (`how` says what was done to it).

    `a_to_b` maps `a`'s normalised (x, y) to `b`'s (a 2x3 affine, row-major), so labels compare in one frame.
    """

    a: Path
    b: Path
    split_a: str
    split_b: str
    exact: bool
    how: str = "byte-identical"
    correlation: float = 1.0
    a_to_b: Affine = IDENTITY
    inliers: int = 0


def exact_duplicate_groups(scans: Mapping[str, Sequence[ImageScan]]) -> list[list[tuple[str, ImageScan]]]:
    """Groups (two or more members) of (split, scan) with the same sha256, in a stable order."""
    by_hash: dict[str, list[tuple[str, ImageScan]]] = defaultdict(list)
    for split, split_scans in scans.items():
        for scan in split_scans:
            if scan.sha256 and scan.size_bytes:
                by_hash[scan.sha256].append((split, scan))
    return [group for _, group in sorted(by_hash.items()) if len(group) > 1]


def pairs_in_group(group: Sequence[tuple[str, ImageScan]]) -> list[DuplicatePair]:
    return [
        DuplicatePair(sa.path, sb.path, a_split, b_split, exact=True)
        for i, (a_split, sa) in enumerate(group)
        for b_split, sb in group[i + 1 :]
    ]


def near_copies(
    scans: Mapping[str, Sequence[ImageScan]],
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[DuplicatePair]:
    """Copies of one radiograph among all splits (within one split too), byte-identical files left out."""
    from bonefrac.data.copies import copies_by_split

    return [
        DuplicatePair(
            a.path, b.path, split_a, split_b, False, m.how, round(m.correlation, 4), m.a_to_b, m.inliers
        )
        for split_a, a, split_b, b, m in copies_by_split(scans, workers, on_progress)
    ]


def copy_groups(pairs: Iterable[DuplicatePair]) -> list[tuple[Path, ...]]:
    """Images holding one radiograph, joined through any chain of copy pairs: sorted groups of 2 or more."""
    parent: dict[Path, Path] = {}

    def root(path: Path) -> Path:
        parent.setdefault(path, path)
        while parent[path] != path:
            parent[path] = parent[parent[path]]
            path = parent[path]
        return path

    for pair in pairs:
        ra, rb = root(pair.a), root(pair.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[Path, list[Path]] = defaultdict(list)
    for path in parent:
        members[root(path)].append(path)
    return sorted(tuple(sorted(group)) for group in members.values() if len(group) > 1)


def _mapped_boxes(scan: LabelScan, a_to_b: Affine) -> tuple[np.ndarray, np.ndarray]:
    """(classes, xyxy boxes) of `scan` in the other copy's normalised frame: each box's corners mapped, then
    their bounding box (what augmentation tools do to labels), kept when mostly inside the image."""
    if len(scan.boxes) == 0:
        return np.zeros(0, np.int64), np.zeros((0, 4))
    xyxy = cxcywh_to_xyxy(scan.boxes[:, 1:5])
    corners = np.stack(
        [xyxy[:, [0, 1]], xyxy[:, [2, 1]], xyxy[:, [0, 3]], xyxy[:, [2, 3]]], axis=1
    )  # (n, 4, 2)
    matrix = np.asarray(a_to_b, dtype=np.float64).reshape(2, 3)
    mapped = corners @ matrix[:, :2].T + matrix[:, 2]
    boxes = np.concatenate([mapped.min(axis=1), mapped.max(axis=1)], axis=1)
    clipped = np.clip(boxes, 0.0, 1.0)
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    visible = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    keep = visible >= MIN_VISIBLE * np.where(area > 0, area, 1.0)
    return scan.class_ids[keep], clipped[keep]


def label_disagreement(a: LabelScan, b: LabelScan, a_to_b: Affine = IDENTITY) -> str | None:
    """Why two copies of one radiograph carry different boxes (same class and IoU >= 0.5 once `a`'s boxes are
    mapped into `b`'s frame), or None when they agree."""
    classes_a, boxes_a = _mapped_boxes(a, a_to_b)
    classes_b, boxes_b = _mapped_boxes(b, IDENTITY)
    if len(boxes_a) != len(boxes_b):
        return f"{len(boxes_a)} vs {len(boxes_b)} boxes"
    if len(boxes_a) == 0:
        return None
    overlaps = iou_matrix(boxes_a, boxes_b)
    unmatched = list(range(len(boxes_b)))
    for i in range(len(boxes_a)):
        same_class = [j for j in unmatched if classes_b[j] == classes_a[i]]
        if not same_class:
            return f"a class {int(classes_a[i])} box has no counterpart of that class"
        best = max(same_class, key=lambda j: overlaps[i, j])
        overlap = float(overlaps[i, best])
        if overlap < MIN_IOU:
            return f"a box has no counterpart overlapping it by IoU >= {MIN_IOU} (best {overlap:.2f})"
        unmatched.remove(best)
    return None


def describe_labels(scan: LabelScan, class_names: Sequence[str]) -> str:
    if not scan.exists:
        return "no label file"
    if len(scan.boxes) == 0:
        return "no boxes"
    names = [class_names[int(c)] for c in scan.boxes[:, 0]]
    counts = {name: names.count(name) for name in dict.fromkeys(names)}
    return ", ".join(f"{n} {name}" for name, n in counts.items()) + (" box" if len(names) == 1 else " boxes")
