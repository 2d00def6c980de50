"""Duplicates: identical files, cross-split near-duplicates (pHash confirmed on pixels), label conflicts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bonefrac.data.image_checks import THUMB_SIDE, ImageScan, hamming, load_gray
from bonefrac.data.label_checks import LabelScan

MAX_HAMMING = 18  # pHash bits (of 64) two candidates may differ by; pixels decide, the hash only prefilters
MIN_CORRELATION = 0.99  # pixel correlation that confirms a candidate as the same radiograph
MAX_ASPECT_DIFFERENCE = 0.03  # relative; a resized copy keeps its aspect ratio
MIN_IOU = 0.5  # boxes of two copies that overlap less than this disagree

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass(frozen=True)
class DuplicatePair:
    """Two files holding the same radiograph: `exact` (same bytes) or `near` (re-encoded, resized)."""

    a: Path
    b: Path
    split_a: str
    split_b: str
    exact: bool
    hamming: int = 0
    correlation: float = 1.0


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


def _hamming_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    xor = (a[:, None] ^ b[None, :]).view(np.uint8).reshape(len(a), len(b), 8)
    return _POPCOUNT[xor].sum(axis=2, dtype=np.int32)


def near_duplicate_candidates(
    scans: Mapping[str, Sequence[ImageScan]], max_hamming: int = MAX_HAMMING
) -> list[tuple[str, ImageScan, str, ImageScan, int]]:
    """Pairs from different splits whose perceptual hashes differ by at most `max_hamming` bits."""
    hashed = {split: [s for s in split_scans if s.phash is not None] for split, split_scans in scans.items()}
    splits = list(hashed)
    candidates = []
    for i, split_a in enumerate(splits):
        for split_b in splits[i + 1 :]:
            left, right = hashed[split_a], hashed[split_b]
            if not left or not right:
                continue
            hb = np.array([s.phash for s in right], dtype=np.uint64)
            for start in range(0, len(left), 512):
                chunk = left[start : start + 512]
                ha = np.array([s.phash for s in chunk], dtype=np.uint64)
                rows, cols = np.nonzero(_hamming_matrix(ha, hb) <= max_hamming)
                for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                    sa, sb = chunk[r], right[c]
                    if sa.sha256 != sb.sha256:
                        candidates.append((split_a, sa, split_b, sb, hamming(sa.phash, sb.phash)))
    return candidates


def _pixels(scan: ImageScan) -> np.ndarray:
    if scan.thumbnail is not None:
        return scan.thumbnail
    gray = Image.fromarray(load_gray(scan.path))
    gray.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    return np.asarray(gray)


def pixel_correlation(a: ImageScan, b: ImageScan) -> float:
    """Pearson correlation of two images' grayscale thumbnails, brought to one size.

    Rows a truncated JPEG lost (see `ImageScan.valid_rows`) are left out of the comparison in both images.
    """
    pa, pb = _pixels(a).astype(np.float64), _pixels(b).astype(np.float64)
    ratio_a, ratio_b = pa.shape[1] / pa.shape[0], pb.shape[1] / pb.shape[0]
    if abs(ratio_a - ratio_b) / max(ratio_a, ratio_b) > MAX_ASPECT_DIFFERENCE:
        return 0.0
    if pb.shape != pa.shape:
        resized = Image.fromarray(pb.astype(np.uint8)).resize(
            (pa.shape[1], pa.shape[0]), Image.Resampling.BOX
        )
        pb = np.asarray(resized, dtype=np.float64)
    valid = min(a.valid_rows / max(a.height, 1), b.valid_rows / max(b.height, 1))
    rows = int(pa.shape[0] * valid)
    if rows < pa.shape[0] // 4:  # too little left to tell
        return 0.0
    pa, pb = pa[:rows].ravel(), pb[:rows].ravel()
    pa -= pa.mean()
    pb -= pb.mean()
    denominator = float(np.sqrt((pa * pa).sum() * (pb * pb).sum()))
    if denominator == 0.0:  # a flat image: nothing to compare
        return 0.0
    return float((pa * pb).sum() / denominator)


def confirm_near_duplicates(
    candidates: Sequence[tuple[str, ImageScan, str, ImageScan, int]],
    min_correlation: float = MIN_CORRELATION,
    on_progress: Callable[[int], None] | None = None,
) -> list[DuplicatePair]:
    """The candidates whose pixels really match (correlation >= min_correlation)."""
    confirmed = []
    for split_a, sa, split_b, sb, distance in candidates:
        try:
            correlation = pixel_correlation(sa, sb)
        except OSError:
            correlation = 0.0
        if correlation >= min_correlation:
            confirmed.append(DuplicatePair(sa.path, sb.path, split_a, split_b, False, distance, correlation))
        if on_progress:
            on_progress(1)
    return confirmed


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


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ax0, ay0, ax1, ay1 = a[1] - a[3] / 2, a[2] - a[4] / 2, a[1] + a[3] / 2, a[2] + a[4] / 2
    bx0, by0, bx1, by1 = b[1] - b[3] / 2, b[2] - b[4] / 2, b[1] + b[3] / 2, b[2] + b[4] / 2
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = a[3] * a[4] + b[3] * b[4] - inter
    return float(inter / union) if union > 0 else 0.0


def label_disagreement(a: LabelScan, b: LabelScan) -> str | None:
    """Why two copies of one radiograph carry different boxes (same class and IoU >= 0.5 agree), or None."""
    if len(a.boxes) != len(b.boxes):
        return f"{len(a.boxes)} vs {len(b.boxes)} boxes"
    unmatched = list(range(len(b.boxes)))
    for box in a.boxes:
        same_class = [j for j in unmatched if b.boxes[j][0] == box[0]]
        if not same_class:
            return f"a class {int(box[0])} box has no counterpart of that class"
        best = max(same_class, key=lambda j: _iou(box, b.boxes[j]))
        overlap = _iou(box, b.boxes[best])
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
