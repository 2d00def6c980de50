"""Copies of one radiograph, whatever was done to them, found without comparing all pairs.

1. Retrieval. Every image gets a small descriptor: the ranks of its thumbnail's pixels (so exposure, contrast
   and gamma changes do not move it) over its content (rows a truncated JPEG lost and flat padding left out),
   shrunk to 16x16, indexed whole and by its centre. A faiss index (exact up to `EXACT_SEARCH_MAX` entries, an
   HNSW graph above) returns each image's nearest neighbours as it is under the 8 flips and quarter turns, and
   as if turned a few degrees, sheared or zoomed (`QUERY_WARPS`): about 26 queries an image, never all pairs.
   A truncated image is also looked up among the same top part of every other image.
2. Confirmation, never by the descriptor alone. A candidate is a copy when its thumbnail, turned as the
   retrieval said, correlates with the other's (re-encoded, resized, mirrored, turned, re-exposed, truncated),
   or when ORB keypoints agree on one affine transform (RANSAC) and the pixels it maps correlate (small
   rotations, shear, crop, padding, zoom). Keypoint checks cost the most, so each image gets one: for the
   candidate whose thumbnail agrees best under one of the warps.

Every confirmed pair carries the affine map from one image's normalised coordinates to the other's, so their
labels can be compared in one frame.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from bonefrac.data.image_checks import ImageScan, load_gray
from bonefrac.data.parallel import map_files, shared_state

log = logging.getLogger(__name__)

DESCRIPTOR_SIDE = 16
NEIGHBOURS = 5  # nearest index entries asked per query
EXACT_SEARCH_MAX = 3000  # index entries up to which an exact search costs less than building an HNSW graph
SEARCH_BLOCK = 1000  # queries searched together in one process
MIN_SIMILARITY = 0.8  # descriptor cosine below which a neighbour is not a candidate at all
PIXEL_MIN_CORRELATION = 0.98  # aligned thumbnails' `pixel_agreement` that confirms a copy on its own
MAX_ASPECT_DIFFERENCE = 0.04  # relative; a copy confirmed on thumbnails keeps its aspect ratio
PIXEL_PARTNERS = 3  # thumbnail checks per image (its most similar candidates)
KEYPOINT_PARTNERS = 6  # shortlist per image: its most similar candidates the thumbnails did not confirm
KEYPOINT_MIN_SIMILARITY = 0.85  # descriptor cosine from which a candidate is worth a keypoint check ...
WARPED_MIN_AGREEMENT = 0.8  # ... and thumbnail agreement under the best of QUERY_WARPS; each image's
# shortlisted pair that agrees best gets the keypoint check
# Versions of one source that were each turned, sheared and re-exposed differently differ by a composed warp
# that no single query warp undoes. Between REFINE_FROM and WARPED_MIN_AGREEMENT the best warp is refined to
# the affine that aligns the thumbnails best (OpenCV's ECC); such a pair passes at REFINED_MIN_AGREEMENT,
# a higher bar because the refinement also lifts look-alikes.
REFINE_FROM = 0.6
REFINED_MIN_AGREEMENT = 0.95
ECC_ITERATIONS = 30
# Synthetic or similar-looking radiographs crowd an image's shortlist with look-alikes that pass the gate too:
# its two best-agreeing pairs get the keypoint check (on 20,000 synthetic images: 415 of 480 planted copies
# found against 399 with one, for 30 % more time).
KEYPOINT_CHECKS_PER_IMAGE = 2
KEYPOINT_BLOCK = 2000  # pairs whose keypoints are found together (bounds the memory they take)


@dataclass(frozen=True)
class KeypointCheck:
    """One pass of the keypoint check: the longer side images are decoded at, the ORB keypoints found, and the
    inliers and `pixel_agreement` of the mapped pixels a copy must reach."""

    side: int
    features: int
    min_inliers: int
    min_correlation: float
    tolerance: float  # RANSAC's reprojection error, in pixels at `side`


# A copy made by software keeps every detail, so hundreds of keypoints agree and its pixels correlate; two
# exposures of one patient minutes apart (FracAtlas has many) agree on a few dozen points and correlate less.
FINE_CHECK = KeypointCheck(side=320, features=1000, min_inliers=60, min_correlation=0.9, tolerance=4.0)
# Most shortlisted pairs are not copies; a pass at a quarter of the pixels and a third of the keypoints turns
# most of them away, and only the pairs it passes get the fine check. Its bars are far lower than the fine
# check's: on FracAtlas every copy the fine check confirms reaches 32 inliers and 0.84 in this pass, and a
# smooth synthetic radiograph cropped by 10 % on each side 17 inliers.
COARSE_CHECK = KeypointCheck(side=160, features=300, min_inliers=12, min_correlation=0.8, tolerance=2.5)
MIN_INLIERS = FINE_CHECK.min_inliers
MIN_OVERLAP = 0.3  # share of the other image the transformed one must cover
FLAT_BORDER_RANGE = 3  # grey levels a padding row or column may span
TRUNCATION_STEPS = 16  # a truncated image is looked up among the top k/16 of every other image
# each image is indexed whole and by its centre, for cropped or zoomed copies
CENTRE_CROPS = (1.0, 0.9, 0.8, 0.7)
# the query side: each image also asks as if turned a few degrees, sheared or zoomed (what augmentation does)
QUERY_WARPS: tuple[tuple[str, float], ...] = (
    ("none", 0.0),
    ("rotate", -12.0),
    ("rotate", -6.0),
    ("rotate", 6.0),
    ("rotate", 12.0),
    ("shear_x", -0.15),
    ("shear_x", 0.15),
    ("shear_y", -0.15),
    ("shear_y", 0.15),
    ("zoom", 0.85),
)

# the 8 orientations: (quarter turns counter-clockwise, mirrored left-right afterwards)
ORIENTATIONS: tuple[tuple[int, bool], ...] = tuple((k, m) for k in range(4) for m in (False, True))


@dataclass(frozen=True)
class CopyMatch:
    """Image `a` is a copy of image `b`: how it was confirmed and the map between their coordinates.

    `a_to_b` is a 2x3 affine (row-major) from `a`'s normalised (x, y) in 0..1 to `b`'s.
    """

    a: int
    b: int
    how: str
    correlation: float
    a_to_b: tuple[float, float, float, float, float, float]
    inliers: int = 0


def _orient(pixels: np.ndarray, orientation: tuple[int, bool]) -> np.ndarray:
    turns, mirror = orientation
    turned = np.rot90(pixels, turns)
    return turned[:, ::-1] if mirror else turned


def _orientation_affine(orientation: tuple[int, bool]) -> np.ndarray:
    """3x3 map of normalised (x, y) through `_orient` (np.rot90 turns counter-clockwise)."""
    turns, mirror = orientation
    quarter = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])  # (x, y) -> (y, 1 - x)
    matrix = np.linalg.matrix_power(quarter, turns)
    if mirror:
        matrix = np.array([[-1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ matrix
    return matrix


def _orientation_name(orientation: tuple[int, bool]) -> str:
    turns, mirror = orientation
    parts = [f"turned {90 * turns} degrees"] if turns else []
    return ", ".join(parts + (["mirrored"] if mirror else []))


def _equalised(pixels: np.ndarray) -> np.ndarray:
    """Each pixel's mid-rank among the image's pixels, 0..1: the same for any monotonic exposure change."""
    if pixels.dtype == np.uint8:  # a histogram is enough, and far faster than sorting
        counts = np.bincount(pixels.ravel(), minlength=256)
        ranks = (np.cumsum(counts) - counts / 2.0) / max(pixels.size, 1)
        return ranks.astype(np.float32)[pixels]
    _, inverse, counts = np.unique(pixels, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - counts / 2.0) / pixels.size
    return ranks[inverse].reshape(pixels.shape).astype(np.float32)


def _valid_mask(scan: ImageScan, shape: tuple[int, int]) -> np.ndarray:
    rows = int(shape[0] * scan.valid_rows / max(scan.height, 1)) if scan.height else shape[0]
    mask = np.zeros(shape, dtype=bool)
    mask[: max(rows, 0)] = True
    return mask


def _content_box(pixels: np.ndarray, rows: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of `pixels[:rows]` without flat borders (padding)."""
    region = pixels[:rows]
    row_flat = np.ptp(region, axis=1) <= FLAT_BORDER_RANGE
    col_flat = np.ptp(region, axis=0) <= FLAT_BORDER_RANGE
    keep_rows, keep_cols = np.flatnonzero(~row_flat), np.flatnonzero(~col_flat)
    if len(keep_rows) < 4 or len(keep_cols) < 4:
        return 0, rows, 0, region.shape[1]
    return int(keep_rows[0]), int(keep_rows[-1]) + 1, int(keep_cols[0]), int(keep_cols[-1]) + 1


@dataclass(frozen=True)
class _Thumb:
    pixels: np.ndarray  # grayscale thumbnail, uint8
    mask: np.ndarray  # rows that hold real pixels
    rows: int  # how many rows from the top hold real pixels


def _thumb(scan: ImageScan) -> _Thumb | None:
    if scan.thumbnail is None:
        return None
    mask = _valid_mask(scan, scan.thumbnail.shape)
    return _Thumb(scan.thumbnail, mask, int(mask[:, 0].sum()))


def _content(thumb: _Thumb) -> np.ndarray:
    top, bottom, left, right = _content_box(thumb.pixels, max(thumb.rows, 1))
    return thumb.pixels[top:bottom, left:right]


def _centre(pixels: np.ndarray, share: float) -> np.ndarray:
    height, width = pixels.shape[:2]
    top, left = round(height * (1 - share) / 2), round(width * (1 - share) / 2)
    return pixels[top : max(top + 1, height - top), left : max(left + 1, width - left)]


def _warp_matrix(kind: str, amount: float, width: int, height: int) -> np.ndarray:
    """2x3 affine about an image's centre: a turn of `amount` degrees or a shear of `amount`."""
    import cv2

    cx, cy = (width - 1) / 2, (height - 1) / 2
    if kind == "rotate":
        return cv2.getRotationMatrix2D((cx, cy), amount, 1.0)
    if kind == "shear_x":
        return np.array([[1.0, amount, -amount * cy], [0.0, 1.0, 0.0]])
    return np.array([[1.0, 0.0, 0.0], [amount, 1.0, -amount * cx]])


def _warped(pixels: np.ndarray, kind: str, amount: float) -> np.ndarray:
    """`pixels` as one of QUERY_WARPS would change them, same size."""
    import cv2

    height, width = pixels.shape[:2]
    if kind == "none":
        return pixels
    if kind == "zoom":
        return cv2.resize(_centre(pixels, amount), (width, height), interpolation=cv2.INTER_AREA)
    matrix = _warp_matrix(kind, amount, width, height)
    return cv2.warpAffine(
        pixels, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def _inverse_warp_matrix(kind: str, amount: float, width: int, height: int) -> np.ndarray:
    """2x3 affine from a warped image's coordinates back to the original's, for one of QUERY_WARPS."""
    import cv2

    if kind == "none":
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if kind == "zoom":  # `_warped` crops the centre `amount` and stretches it back to the full size
        cx, cy = (width - 1) / 2, (height - 1) / 2
        return np.array([[amount, 0.0, (1 - amount) * cx], [0.0, amount, (1 - amount) * cy]])
    return np.asarray(cv2.invertAffineTransform(_warp_matrix(kind, amount, width, height)))


def _refined_agreement(source: np.ndarray, target: np.ndarray, start: np.ndarray) -> float:
    """The correlation of `target` with `source` under the affine ECC reaches from `start` (0 if it fails)."""
    import cv2

    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, 1e-4)
    everywhere = np.full(target.shape, 255, dtype=np.uint8)  # no mask; 1: no extra smoothing of thumbnails
    try:
        correlation, _ = cv2.findTransformECC(
            target, source, start.astype(np.float32), cv2.MOTION_AFFINE, criteria, everywhere, 1
        )
    except cv2.error:  # no convergence, or flat images
        return 0.0
    return float(correlation)


@dataclass(frozen=True)
class GateScore:
    """How well two thumbnails agree once aligned, and whether the alignment had to be refined."""

    agreement: float
    refined: bool = False

    @property
    def passes(self) -> bool:
        """Worth a keypoint check: over the bar that goes with how the thumbnails were aligned."""
        return self.agreement >= (REFINED_MIN_AGREEMENT if self.refined else WARPED_MIN_AGREEMENT)


def warped_thumbnail_agreement(a: _Thumb, b: _Thumb, orientation: tuple[int, bool]) -> GateScore:
    """How well `b`'s content agrees with `a`'s, turned by `orientation`, once aligned: the best correlation
    under QUERY_WARPS, refined (see REFINE_FROM) when that falls just short.

    A cheap test of whether a keypoint check can succeed: a geometric copy agrees far better than a
    look-alike radiograph does.
    """
    import cv2

    target = _content(b).astype(np.float32)
    turned = np.ascontiguousarray(_orient(_content(a), orientation).astype(np.float32))
    source = cv2.resize(turned, (target.shape[1], target.shape[0]), interpolation=cv2.INTER_AREA)
    best, kind, amount = max(
        (_correlation(_warped(source, kind, amount), target), kind, amount) for kind, amount in QUERY_WARPS
    )
    if not REFINE_FROM <= best < WARPED_MIN_AGREEMENT or min(target.shape) < 8:
        return GateScore(best)
    start = _inverse_warp_matrix(kind, amount, target.shape[1], target.shape[0])
    return GateScore(max(best, _refined_agreement(source, target, start)), refined=True)


@functools.lru_cache(maxsize=32)
def _operator(name: str, amount: float, side: int) -> np.ndarray:
    """The grid operator of one query warp (`QUERY_WARPS`) or centre crop (name "centre"), made once."""
    if name == "centre":
        return _grid_operator(lambda grid: _shrink(_centre(grid, amount)), side)
    return _grid_operator(_warp_then_shrink(name, amount), side)


def _grid_operator(transform: Callable[[np.ndarray], np.ndarray], side: int) -> np.ndarray:
    """The (DESCRIPTOR_SIDE^2, side^2) matrix of a linear image operation on a side x side grid.

    Warping, cropping and shrinking are linear in the pixels, so each is worked out once on the basis images
    (four at a time, as the channels of one OpenCV image) and then applied to every image as a matrix product.
    """
    columns = []
    for start in range(0, side * side, 4):
        basis = np.zeros((side * side, 4), dtype=np.float32)
        basis[np.arange(start, start + 4), np.arange(4)] = 1.0
        columns.append(transform(basis.reshape(side, side, 4)).reshape(-1, 4))
    return np.concatenate(columns, axis=1)


def _shrink(pixels: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(pixels, (DESCRIPTOR_SIDE, DESCRIPTOR_SIDE), interpolation=cv2.INTER_AREA)


def _warp_then_shrink(kind: str, amount: float) -> Callable[[np.ndarray], np.ndarray]:
    def apply(grid: np.ndarray) -> np.ndarray:
        return _shrink(_centre(grid, amount) if kind == "zoom" else _warped(grid, kind, amount))

    return apply


def _normalised_rows(grids: np.ndarray) -> np.ndarray:
    """Rows of (n, DESCRIPTOR_SIDE^2) made zero-mean and unit-norm (all-flat rows stay zero)."""
    rows = grids.reshape(len(grids), -1).astype(np.float32)
    rows -= rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def _top_descriptors(thumbs: Sequence[_Thumb], fraction: float) -> np.ndarray:
    """The top `fraction` of each image as it is (no ranks: a truncated copy keeps those rows' pixels)."""
    import cv2

    side = (DESCRIPTOR_SIDE, DESCRIPTOR_SIDE)
    grids = [
        cv2.resize(
            t.pixels[: max(4, round(t.pixels.shape[0] * fraction))].astype(np.float32),
            side,
            interpolation=cv2.INTER_AREA,
        )
        for t in thumbs
    ]
    return _normalised_rows(np.stack(grids))


def _faiss() -> Any:
    """faiss, single-threaded: the work is spread over processes already, and OpenMP threads spinning on two
    shared cores made every search several times slower."""
    import faiss

    faiss.omp_set_num_threads(1)
    return faiss


def _nearest(
    index_vectors: np.ndarray, queries: np.ndarray, k: int, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, indices) of the k nearest index vectors by inner product, for each query; the queries
    are searched in blocks spread over `workers` processes."""
    faiss = _faiss()

    k = min(k, len(index_vectors))
    if len(index_vectors) <= EXACT_SEARCH_MAX:
        index = faiss.IndexFlatIP(index_vectors.shape[1])
    else:
        index = faiss.IndexHNSWFlat(index_vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 64
        index.hnsw.efSearch = 32
    index.add(np.ascontiguousarray(index_vectors, dtype=np.float32))
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    starts = range(0, len(queries), SEARCH_BLOCK)
    blocks = [(start, min(start + SEARCH_BLOCK, len(queries))) for start in starts]
    found = map_files(_search_task, blocks, workers, shared=(index, queries, k))
    return np.concatenate([s for s, _ in found]), np.concatenate([i for _, i in found])


def _search_task(block: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One block of `_nearest`'s queries against the index `map_files` shares."""
    index, queries, k = shared_state()
    _faiss()
    similarities, indices = index.search(queries[block[0] : block[1]], k)
    return similarities, indices


# (a, b) -> (similarity, orientation of a that resembles b)
Candidates = dict[tuple[int, int], tuple[float, tuple[int, bool]]]


def _add_candidates(
    found: Candidates, a: np.ndarray, b: np.ndarray, similarity: np.ndarray, orientation: np.ndarray
) -> None:
    """`_add_candidate` for arrays of pairs at once (`orientation` as indices into ORIENTATIONS)."""
    keep = (a != b) & (similarity >= MIN_SIMILARITY)
    a, b, similarity, orientation = a[keep], b[keep], similarity[keep], orientation[keep]
    swap = a > b  # keep one direction: b's orientation that resembles a is the inverse turn
    turns, mirror = orientation // 2, orientation % 2
    inverse = np.where(mirror == 1, orientation, 2 * ((4 - turns) % 4))
    first, second = np.where(swap, b, a), np.where(swap, a, b)
    orientation = np.where(swap, inverse, orientation)
    order = np.lexsort((-similarity, second, first))  # per pair, the most similar first
    first, second = first[order], second[order]
    head = np.ones(len(first), dtype=bool)
    head[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
    best = (first[head], second[head], similarity[order][head], orientation[order][head])
    for i, j, value, o in zip(*(column.tolist() for column in best), strict=True):
        if (i, j) not in found or found[(i, j)][0] < value:
            found[(i, j)] = (value, ORIENTATIONS[o])


def retrieve_candidates(thumbs: Sequence[_Thumb | None], workers: int | None = None) -> Candidates:
    """Pairs of images whose descriptors are near under some orientation (the most similar one kept)."""
    import cv2

    usable = [i for i, t in enumerate(thumbs) if t is not None]
    found: Candidates = {}
    if len(usable) < 2:
        return found
    side = 2 * DESCRIPTOR_SIDE  # each image's ranks on a small square grid: every warp below works on that
    ranks = np.stack(
        [
            cv2.resize(_equalised(_content(t)), (side, side), interpolation=cv2.INTER_AREA).ravel()
            for i in usable
            if (t := thumbs[i]) is not None
        ]
    )
    crops = [_operator("centre", share, side) for share in CENTRE_CROPS]
    by_crop = np.stack([ranks @ crop.T for crop in crops], axis=1)  # (images, crops, side^2)
    entries = _normalised_rows(by_crop.reshape(-1, DESCRIPTOR_SIDE**2))
    # every orientation as it is, and a mirror image of each augmentation (flipped, then turned a little);
    # turning the grid is turning the image: the box filter treats rows and columns alike
    query_blocks, origins = [], []
    for w, (kind, amount) in enumerate(QUERY_WARPS):
        grids = (ranks @ _operator(kind, amount, side).T).reshape(-1, DESCRIPTOR_SIDE, DESCRIPTOR_SIDE)
        for orientation in ORIENTATIONS if w == 0 else ((0, False), (0, True)):
            turns, mirror = orientation
            turned = np.rot90(grids, turns, axes=(1, 2))
            query_blocks.append(_normalised_rows(turned[:, :, ::-1] if mirror else turned))
            origins.append(orientation)
    similarities, indices = _nearest(entries, np.concatenate(query_blocks), NEIGHBOURS, workers)
    images = len(usable)
    queries = np.arange(len(similarities))
    image_ids = np.asarray(usable)
    _add_candidates(
        found,
        np.repeat(image_ids[queries % images], indices.shape[1]),
        image_ids[np.maximum(indices, 0) // len(CENTRE_CROPS)].ravel(),
        np.where(indices >= 0, similarities, -1.0).ravel(),
        np.repeat(np.array([ORIENTATIONS.index(o) for o in origins])[queries // images], indices.shape[1]),
    )
    _add_truncated_candidates(found, thumbs, usable)
    return found


def _add_truncated_candidates(found: Candidates, thumbs: Sequence[_Thumb | None], usable: list[int]) -> None:
    """A truncated image against the same top part of every other image, one exact search per cut height."""
    by_step: dict[int, list[int]] = {}
    for i in usable:
        thumb = thumbs[i]
        if thumb is not None and thumb.rows < thumb.pixels.shape[0] * (1 - 1 / TRUNCATION_STEPS):
            by_step.setdefault(max(1, int(TRUNCATION_STEPS * thumb.rows / thumb.pixels.shape[0])), []).append(
                i
            )
    present = [t for i in usable if (t := thumbs[i]) is not None]
    position = {image: k for k, image in enumerate(usable)}
    for step, truncated in sorted(by_step.items()):
        base = _top_descriptors(present, step / TRUNCATION_STEPS)
        index = _faiss().IndexFlatIP(base.shape[1])
        index.add(base)
        queries = np.ascontiguousarray(base[[position[i] for i in truncated]])
        similarities, indices = index.search(queries, min(NEIGHBOURS + 1, len(usable)))
        _add_candidates(
            found,
            np.repeat(np.asarray(truncated), indices.shape[1]),
            np.asarray(usable)[np.maximum(indices, 0)].ravel(),
            np.where(indices >= 0, similarities, -1.0).ravel(),
            np.zeros(indices.size, dtype=int),
        )


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else 0.0


def pixel_agreement(x: np.ndarray, y: np.ndarray) -> float:
    """How well two sets of corresponding pixels agree: the larger of their correlation (robust to noise in
    flat regions) and their rank correlation (robust to any monotonic change of exposure or gamma)."""
    plain = _correlation(x.astype(np.float32), y.astype(np.float32))
    if plain >= PIXEL_MIN_CORRELATION or plain < 0.5:  # ranks cannot change the verdict
        return plain
    return max(plain, _correlation(_equalised(x), _equalised(y)))


def aligned_thumbnail_correlation(a: _Thumb, b: _Thumb, orientation: tuple[int, bool]) -> float:
    """Rank correlation of `a` turned by `orientation` and `b`, over the rows both really hold."""
    pa, ma = _orient(a.pixels, orientation), _orient(a.mask, orientation)
    ratio_a, ratio_b = pa.shape[1] / pa.shape[0], b.pixels.shape[1] / b.pixels.shape[0]
    if abs(ratio_a - ratio_b) / max(ratio_a, ratio_b) > MAX_ASPECT_DIFFERENCE:
        return 0.0
    size = (b.pixels.shape[1], b.pixels.shape[0])
    if pa.shape != b.pixels.shape:
        pa = np.asarray(Image.fromarray(np.ascontiguousarray(pa)).resize(size, Image.Resampling.BOX))
        ma = np.asarray(Image.fromarray(np.ascontiguousarray(ma)).resize(size, Image.Resampling.NEAREST))
    common = ma & b.mask
    if common.sum() < b.pixels.size // 4:  # too little left to tell
        return 0.0
    return pixel_agreement(pa[common], b.pixels[common])


@dataclass(frozen=True)
class Keypoints:
    """ORB keypoints of one image (mirrored when asked) and its equalised pixels for the photometric check."""

    image: np.ndarray  # equalised grayscale, longer side `KeypointCheck.side` at most, uint8
    mask: np.ndarray  # uint8 255 where the pixels are real (not rows a truncated file lost)
    points: np.ndarray  # (n, 2) float32 x, y in `image`'s pixels
    descriptors: np.ndarray  # (n, 32) uint8


def image_keypoints(task: tuple[ImageScan, bool, KeypointCheck]) -> Keypoints:
    """Decode one image small and find its ORB keypoints (mirrored left-right first when asked).

    ORB is rotation-invariant, so turned copies need no turned keypoints; mirrored ones do.
    """
    import cv2

    scan, mirrored, check = task
    gray = load_gray(scan.path, max_side=check.side)
    valid = _valid_mask(scan, gray.shape)
    if mirrored:
        gray, valid = gray[:, ::-1], valid[:, ::-1]
    mask = np.ascontiguousarray(valid.astype(np.uint8) * 255)
    equalised = cv2.equalizeHist(np.ascontiguousarray(gray))
    # OpenCV's stubs lack ORB_create, which every OpenCV 4 and 5 build has
    orb = cv2.ORB_create(  # type: ignore[attr-defined]
        nfeatures=check.features, edgeThreshold=15, patchSize=15, fastThreshold=5
    )
    points, descriptors = orb.detectAndCompute(equalised, mask)
    xy = np.array([p.pt for p in points], dtype=np.float32).reshape(-1, 2)
    if descriptors is None:
        descriptors = np.zeros((0, 32), np.uint8)
    return Keypoints(equalised, mask, xy, descriptors)


def _describe_affine(pixel_linear: np.ndarray, normalised_linear: np.ndarray) -> str:
    """Rotation and shear (from the map in pixels) and zoom (from the map between the images' frames), in
    words; small ones are left unsaid."""
    (a, b), (c, d) = pixel_linear
    angle = math.degrees(math.atan2(c, a))
    shear = math.degrees(math.atan2(a * b + c * d, a * d - b * c))
    zoom = math.sqrt(abs(float(np.linalg.det(normalised_linear))))
    words = []
    if abs(angle) >= 1.5:
        words.append(f"rotated {abs(angle):.0f} degrees")
    if abs(shear) >= 1.5:
        words.append(f"sheared {abs(shear):.0f} degrees")
    if zoom >= 1.05:
        words.append("zoomed or cropped")
    elif zoom <= 0.95:
        words.append("padded or zoomed out")
    return ", ".join(words) or "re-encoded, resized or shifted"


def keypoint_match(
    ka: Keypoints, kb: Keypoints, mirrored: bool, check: KeypointCheck = FINE_CHECK
) -> tuple[float, int, np.ndarray, str] | None:
    """(correlation, inliers, 3x3 map of `a`'s normalised coordinates to `b`'s, description) when the
    keypoints of `a` (mirrored as `ka` was made) and `b`, found for `check`, agree on one affine map and the
    pixels it maps correlate as `check` asks; None otherwise."""
    import cv2

    if len(ka.points) < check.min_inliers or len(kb.points) < check.min_inliers:
        return None
    distances, nearest = _faiss().IndexBinaryFlat(256), None
    distances.add(kb.descriptors)
    distances, nearest = distances.search(ka.descriptors, 2)
    good = distances[:, 0] < 0.8 * distances[:, 1]  # Lowe's ratio test
    if int(good.sum()) < check.min_inliers:
        return None
    src = ka.points[good]
    dst = kb.points[nearest[good, 0]]
    matrix, inlier_flags = cv2.estimateAffine2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=check.tolerance, maxIters=1000, confidence=0.995
    )
    if matrix is None or int(inlier_flags.sum()) < check.min_inliers:
        return None
    linear = matrix[:, :2]
    determinant = float(np.linalg.det(linear))
    if not 0.25 <= determinant <= 4.0:  # a mirror (negative) or an implausible zoom
        return None
    height, width = kb.image.shape
    warped = cv2.warpAffine(ka.image, matrix, (width, height), flags=cv2.INTER_LINEAR)
    covered = cv2.warpAffine(ka.mask, matrix, (width, height), flags=cv2.INTER_NEAREST)
    border = max(3, 5 * check.side // FINE_CHECK.side)  # pixels whose neighbours the map left out
    covered = cv2.erode(covered, np.ones((border, border), np.uint8))
    common = (covered > 0) & (kb.mask > 0)
    if common.sum() < MIN_OVERLAP * width * height:
        return None
    correlation = pixel_agreement(warped[common], kb.image[common])
    if correlation < check.min_correlation:
        return None
    ha, wa = ka.image.shape
    to_pixels_a = np.diag([wa, ha, 1.0])
    to_normalised_b = np.diag([1.0 / width, 1.0 / height, 1.0])
    pixel_map = np.vstack([matrix, [0.0, 0.0, 1.0]])
    between_frames = to_normalised_b @ pixel_map @ to_pixels_a
    normalised = between_frames @ _orientation_affine((0, mirrored))
    parts = (_orientation_name((0, mirrored)), _describe_affine(linear, between_frames[:2, :2]))
    words = [w for w in parts if w]
    return correlation, int(inlier_flags.sum()), normalised, ", ".join(words)


def _as_tuple(matrix: np.ndarray) -> tuple[float, float, float, float, float, float]:
    values = [round(float(v), 6) for v in matrix[:2].ravel()]
    return values[0], values[1], values[2], values[3], values[4], values[5]


def _is_truncation(a: _Thumb, b: _Thumb) -> bool:
    return min(a.rows / a.pixels.shape[0], b.rows / b.pixels.shape[0]) < 1 - 1 / TRUNCATION_STEPS


def _ranked_partners(candidates: Candidates) -> dict[int, list[tuple[float, int]]]:
    partners: dict[int, list[tuple[float, int]]] = {}
    for (a, b), (similarity, _) in candidates.items():
        partners.setdefault(a, []).append((similarity, b))
        partners.setdefault(b, []).append((similarity, a))
    for ranked in partners.values():
        ranked.sort(key=lambda item: (-item[0], item[1]))
    return partners


def _most_similar(
    candidates: Candidates, per_image: int, skip: set[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The pairs among each image's `per_image` most similar candidates (not in `skip`), in a stable order."""
    chosen: set[tuple[int, int]] = set()
    for a, ranked in _ranked_partners(candidates).items():
        kept = [(min(a, b), max(a, b)) for _, b in ranked if (min(a, b), max(a, b)) not in skip]
        chosen.update(kept[:per_image])
    return sorted(chosen)


def _best_for_each_image(
    scores: dict[tuple[int, int], float], per_image: int = KEYPOINT_CHECKS_PER_IMAGE
) -> list[tuple[int, int]]:
    """The pairs that are among some image's `per_image` best-scoring ones, in a stable order."""
    ranked: dict[int, list[tuple[float, tuple[int, int]]]] = {}
    for pair, score in scores.items():
        for image in pair:
            ranked.setdefault(image, []).append((-score, pair))
    chosen = {pair for items in ranked.values() for _, pair in sorted(items)[:per_image]}
    return sorted(chosen)


def _aligned_task(task: tuple[int, int, tuple[int, bool]]) -> float:
    """`aligned_thumbnail_correlation` of two images of the thumbnails `map_files` shares."""
    a, b, orientation = task
    thumbs: Sequence[_Thumb | None] = shared_state()
    ta, tb = thumbs[a], thumbs[b]
    return aligned_thumbnail_correlation(ta, tb, orientation) if ta is not None and tb is not None else 0.0


def _warped_agreement_task(task: tuple[int, int, tuple[int, bool]]) -> GateScore:
    """`warped_thumbnail_agreement` of two images of the thumbnails `map_files` shares."""
    a, b, orientation = task
    thumbs: Sequence[_Thumb | None] = shared_state()
    ta, tb = thumbs[a], thumbs[b]
    return (
        warped_thumbnail_agreement(ta, tb, orientation)
        if ta is not None and tb is not None
        else GateScore(0.0)
    )


def _match_task(
    task: tuple[Keypoints, Keypoints, bool, KeypointCheck],
) -> tuple[float, int, np.ndarray, str] | None:
    return keypoint_match(*task)


def _keypoint_pass(
    scans: Sequence[ImageScan],
    pending: list[tuple[int, int, bool]],
    check: KeypointCheck,
    workers: int | None,
    on_progress: Callable[[int], None] | None,
) -> list[tuple[float, int, np.ndarray, str] | None]:
    """`keypoint_match` under `check` for each (a, b, a mirrored) in `pending`, in blocks: each image's
    keypoints are found once, kept while later pairs need them, and then let go (memory stays bounded)."""
    keys = [((a, mirrored), (b, False)) for a, b, mirrored in pending]
    uses = Counter(key for pair in keys for key in pair)
    found: dict[tuple[int, bool], Keypoints] = {}
    results: list[tuple[float, int, np.ndarray, str] | None] = []
    for start in range(0, len(pending), KEYPOINT_BLOCK):
        block = keys[start : start + KEYPOINT_BLOCK]
        needed = sorted({key for pair in block for key in pair if key not in found})
        tasks = [(scans[i], mirrored, check) for i, mirrored in needed]
        computed = map_files(image_keypoints, tasks, workers)
        found.update(zip(needed, computed, strict=True))
        results += map_files(_match_task, [(found[ka], found[kb], ka[1], check) for ka, kb in block], workers)
        for pair in block:
            for key in pair:
                uses[key] -= 1
                if uses[key] == 0:
                    del found[key]
        if on_progress:
            on_progress(len(block))
    return results


def _keypoint_checks(
    scans: Sequence[ImageScan],
    pending: list[tuple[int, int, bool]],
    workers: int | None,
    on_progress: Callable[[int, int], None] | None,
) -> tuple[list[tuple[float, int, np.ndarray, str] | None], int]:
    """`keypoint_match` for each (a, b, a mirrored) in `pending`: the coarse pass for all, the fine one for
    the pairs the coarse pass did not turn away (its result is the answer); and how many got the fine one."""
    total, done = 2 * len(pending), 0

    def step(n: int) -> None:
        nonlocal done, total
        done += n
        if on_progress:
            on_progress(done, total)

    coarse = _keypoint_pass(scans, pending, COARSE_CHECK, workers, step)
    passed = [i for i, result in enumerate(coarse) if result is not None]
    total = len(pending) + len(passed)
    fine = _keypoint_pass(scans, [pending[i] for i in passed], FINE_CHECK, workers, step)
    results: list[tuple[float, int, np.ndarray, str] | None] = [None] * len(pending)
    for i, result in zip(passed, fine, strict=True):
        results[i] = result
    return results, len(passed)


def find_copies(
    scans: Sequence[ImageScan],
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[CopyMatch]:
    """Confirmed copies among `scans` (indices into it), byte-identical files left out.

    `on_progress(done, total)` follows the keypoint checks, the only slow part.
    """
    started = time.perf_counter()
    thumbs = [_thumb(scan) for scan in scans]
    candidates = {
        pair: value
        for pair, value in retrieve_candidates(thumbs, workers).items()
        if scans[pair[0]].sha256 != scans[pair[1]].sha256
    }
    confirmed: list[CopyMatch] = []
    partners = _most_similar(candidates, PIXEL_PARTNERS, set())
    aligned_tasks = [(a, b, candidates[(a, b)][1]) for a, b in partners]
    for (a, b, orientation), correlation in zip(
        aligned_tasks, map_files(_aligned_task, aligned_tasks, workers, shared=thumbs), strict=True
    ):
        ta, tb = thumbs[a], thumbs[b]
        if correlation >= PIXEL_MIN_CORRELATION and ta is not None and tb is not None:
            name = _orientation_name(orientation) or "re-encoded or resized"
            if _is_truncation(ta, tb):
                name = "truncated" if name == "re-encoded or resized" else f"{name}, truncated"
            confirmed.append(CopyMatch(a, b, name, correlation, _as_tuple(_orientation_affine(orientation))))
    retrieved = time.perf_counter()
    worth = {pair: value for pair, value in candidates.items() if value[0] >= KEYPOINT_MIN_SIMILARITY}
    shortlist = _most_similar(worth, KEYPOINT_PARTNERS, {(m.a, m.b) for m in confirmed})
    gate_tasks = [(a, b, candidates[(a, b)][1]) for a, b in shortlist]
    agreement = map_files(_warped_agreement_task, gate_tasks, workers, shared=thumbs)
    agreeing = {
        pair: score.agreement for pair, score in zip(shortlist, agreement, strict=True) if score.passes
    }
    pending = _best_for_each_image(agreeing)
    gated = time.perf_counter()
    tasks = [(a, b, candidates[(a, b)][1][1]) for a, b in pending]
    results, fine_checks = _keypoint_checks(scans, tasks, workers, on_progress)
    for (a, b), result in zip(pending, results, strict=True):
        if result is not None:
            correlation, inliers, matrix, how = result
            confirmed.append(CopyMatch(a, b, how, correlation, _as_tuple(matrix), inliers))
    log.info(
        "copy search over %d images: %d candidate pairs and thumbnail checks in %.1f s, %d shortlisted in "
        "%.1f s, %d keypoint checks (%d fine) in %.1f s, %d copies",
        len(scans), len(candidates), retrieved - started, len(shortlist), gated - retrieved, len(tasks),
        fine_checks, time.perf_counter() - gated, len(confirmed),
    )  # fmt: skip
    return sorted(confirmed, key=lambda m: (m.a, m.b))


def copies_by_split(
    scans: Mapping[str, Sequence[ImageScan]],
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[tuple[str, ImageScan, str, ImageScan, CopyMatch]]:
    """`find_copies` over every split at once: (split of a, scan a, split of b, scan b, match)."""
    flat = [(split, scan) for split, split_scans in scans.items() for scan in split_scans]
    matches = find_copies([scan for _, scan in flat], workers, on_progress)
    return [(flat[m.a][0], flat[m.a][1], flat[m.b][0], flat[m.b][1], m) for m in matches]
