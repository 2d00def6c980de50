"""Parity: the ONNX engine and ultralytics' own `.pt` predictor must find the same boxes on the same images.

Both see the image the same way (square letterbox at the export size: ultralytics runs with rect=False),
then every box of either side must have a partner of the same class with IoU > `min_iou` and a confidence
within `conf_tol`. Boxes whose confidence sits within `conf_tol` of the threshold may appear on one side only
(0.0100 vs 0.0099 is not a disagreement). Underneath, head_parity.py checks the input tensors and the raw
outputs (ONNX vs torch) directly; with those equal, boxes that NMS kept differently among equal scores
(tie swaps, common in barely trained models) are reported but not failures. `compare_detections` also
compares the int8 model with fp32.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bonefrac.errors import ExportError
from bonefrac.geometry import iou_matrix
from bonefrac.records import Detections, Radiograph

logger = logging.getLogger(__name__)

PARITY_CONF = 0.001  # low, so even an undertrained model gives boxes to compare
PARITY_IOU = 0.7
PARITY_MAX_DET = 1000


@dataclass(frozen=True)
class ImageComparison:
    """How one image's two sets of boxes agree."""

    name: str
    reference_boxes: int
    candidate_boxes: int
    matched: int
    unmatched_reference: int  # beyond the borderline ones
    unmatched_candidate: int
    min_iou: float  # over matched pairs (1.0 when none)
    max_conf_delta: float  # over matched pairs (0.0 when none)
    mean_conf_delta: float
    tie_swaps: int = 0  # pairs NMS kept differently among boxes of equal score (not failures)


@dataclass(frozen=True)
class ParityReport:
    """The comparison over all images and whether it passes the tolerances."""

    images: tuple[ImageComparison, ...]
    min_iou_required: float
    conf_tolerance: float
    failures: tuple[str, ...] = field(default=())
    head: dict[str, float] = field(default_factory=dict)  # input tensor and raw output differences

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def matched(self) -> int:
        return sum(c.matched for c in self.images)

    @property
    def reference_boxes(self) -> int:
        return sum(c.reference_boxes for c in self.images)

    @property
    def box_agreement(self) -> float:
        """Matched pairs / boxes on the larger side, over all images (1.0 when both found nothing)."""
        total = sum(max(c.reference_boxes, c.candidate_boxes) for c in self.images)
        return 1.0 if total == 0 else self.matched / total

    @property
    def mean_conf_delta(self) -> float:
        weights = [c.matched for c in self.images]
        if sum(weights) == 0:
            return 0.0
        return float(np.average([c.mean_conf_delta for c in self.images], weights=weights))

    def with_head(self, head: dict[str, float], failures: Sequence[str]) -> ParityReport:
        """This report plus the raw-output comparison and its failures."""
        return ParityReport(
            self.images, self.min_iou_required, self.conf_tolerance, (*self.failures, *failures), head
        )

    def summary(self) -> dict[str, float | int | bool]:
        matched = [c for c in self.images if c.matched]
        return {
            "passed": self.passed,
            "images": len(self.images),
            "reference_boxes": self.reference_boxes,
            "matched_boxes": self.matched,
            "box_agreement": round(self.box_agreement, 6),
            "min_matched_iou": round(min((c.min_iou for c in matched), default=1.0), 6),
            "max_conf_delta": round(max((c.max_conf_delta for c in matched), default=0.0), 6),
            "mean_conf_delta": round(self.mean_conf_delta, 6),
            "nms_tie_swaps": sum(c.tie_swaps for c in self.images),
            **{k: round(v, 6) for k, v in self.head.items()},
        }


def compare_detections(
    name: str,
    reference: Detections,
    candidate: Detections,
    *,
    threshold: float,
    min_iou: float = 0.99,
    conf_tol: float = 1e-3,
    tie_iou: float | None = None,
) -> ImageComparison:
    """Greedy one-to-one matching (same class, highest IoU first) of two detection sets of one image.

    With `tie_iou` (the NMS IoU), boxes left over on both sides that have the same class, a confidence
    within `conf_tol` and an IoU above `tie_iou` are counted as tie swaps: NMS met boxes of equal score
    and the two sorts kept different ones. Only use it once the raw outputs are known to agree.
    """
    n_ref, n_cand = len(reference), len(candidate)
    pairs: list[tuple[int, int, float]] = []
    swaps = 0
    if n_ref and n_cand:
        iou = iou_matrix(reference.xyxy.astype(np.float64), candidate.xyxy.astype(np.float64))
        iou[reference.class_id[:, None] != candidate.class_id[None, :]] = -1.0
        used_ref, used_cand = set(), set()
        for flat in np.argsort(-iou, axis=None, kind="stable"):
            i, j = divmod(int(flat), n_cand)
            value = float(iou[i, j])
            if value < min_iou:
                break
            if i in used_ref or j in used_cand:
                continue
            used_ref.add(i)
            used_cand.add(j)
            pairs.append((i, j, value))
        if tie_iou is not None:
            close = np.abs(reference.confidence[:, None] - candidate.confidence[None, :]) <= conf_tol
            for flat in np.argsort(-np.where(close, iou, -1.0), axis=None, kind="stable"):
                i, j = divmod(int(flat), n_cand)
                if not close[i, j] or iou[i, j] <= tie_iou:
                    break
                if i in used_ref or j in used_cand:
                    continue
                used_ref.add(i)
                used_cand.add(j)
                swaps += 1
        matched_ref, matched_cand = used_ref, used_cand
    else:
        matched_ref, matched_cand = set(), set()
    borderline = threshold + conf_tol
    unmatched_ref = sum(
        1 for i in range(n_ref) if i not in matched_ref and reference.confidence[i] >= borderline
    )
    unmatched_cand = sum(
        1 for j in range(n_cand) if j not in matched_cand and candidate.confidence[j] >= borderline
    )
    deltas = [abs(float(reference.confidence[i]) - float(candidate.confidence[j])) for i, j, _ in pairs]
    return ImageComparison(
        name=name,
        reference_boxes=n_ref,
        candidate_boxes=n_cand,
        matched=len(pairs),
        unmatched_reference=unmatched_ref,
        unmatched_candidate=unmatched_cand,
        min_iou=min((v for _, _, v in pairs), default=1.0),
        max_conf_delta=max(deltas, default=0.0),
        mean_conf_delta=float(np.mean(deltas)) if deltas else 0.0,
        tie_swaps=swaps,
    )


def judge(
    comparisons: Sequence[ImageComparison], *, min_iou: float = 0.99, conf_tol: float = 1e-3
) -> ParityReport:
    """Collect every disagreement (unmatched boxes, confidence drift) into a report."""
    failures = []
    for c in comparisons:
        if c.unmatched_reference or c.unmatched_candidate:
            failures.append(
                f"{c.name}: {c.unmatched_reference} reference and {c.unmatched_candidate} candidate boxes "
                f"have no partner with IoU > {min_iou} "
                f"(reference {c.reference_boxes}, candidate {c.candidate_boxes})"
            )
        if c.max_conf_delta > conf_tol:
            failures.append(f"{c.name}: confidence differs by {c.max_conf_delta:.2e} > {conf_tol:g}")
    return ParityReport(tuple(comparisons), min_iou, conf_tol, tuple(failures))


def ultralytics_predict(
    weights: Path, images: Sequence[Radiograph], imgsz: int, conf: float, iou: float, max_det: int
) -> list[Detections]:
    """ultralytics' own `.pt` predictor on the same pixels (square letterbox), converted to Detections."""
    from bonefrac.ultralytics_env import first_detections, prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    model = YOLO(str(weights))
    names = tuple(str(model.names[k]) for k in sorted(model.names))
    out = []
    for index, image in enumerate(images):
        bgr = np.ascontiguousarray(image.pixels[:, :, ::-1])
        results = model.predict(
            source=bgr,
            imgsz=imgsz,
            conf=conf,
            iou=iou,
            max_det=max_det,
            rect=False,
            device="cpu",
            verbose=False,
            save=False,
        )
        found = first_detections(results, names)
        if found is None:
            raise ExportError(f"ultralytics returned no result for image {index}")
        out.append(found[0])
    return out


def near_constant_scores(predictor: Any, image: Radiograph, conf: float, min_distinct: float = 0.5) -> bool:
    """True when fewer than `min_distinct` of the scores above `conf` are distinct (to 1e-6).

    A barely trained detector gives the same few scores on thousands of anchors; which of those
    overlapping, equally scored boxes NMS keeps then depends on float noise, not on the model.
    """
    from bonefrac.infer.preprocess import preprocess

    tensor, _ = preprocess(image.pixels, predictor.input_size, use_cv2=predictor.use_cv2)
    scores = predictor.run_raw(tensor)[0, 4:].max(axis=0)
    above = scores[scores > conf]
    if above.size < 20:
        return False
    return np.unique(np.round(above, 6)).size / above.size < min_distinct


def _effective_threshold(conf: float, *sides: Detections) -> float:
    """The score below which boxes may be missing on one side: conf, or the cut-off where max_det bit."""
    cut = [float(d.confidence.min()) for d in sides if len(d) >= PARITY_MAX_DET]
    return max([conf, *cut])


def check_parity(
    onnx_path: Path,
    weights: Path,
    images: Sequence[tuple[str, Radiograph]],
    *,
    conf: float = PARITY_CONF,
    iou: float = PARITY_IOU,
    min_iou: float = 0.99,
    conf_tol: float = 1e-3,
    raise_on_failure: bool = True,
    letterbox_modes: Sequence[str] = ("opencv", "numpy"),
) -> ParityReport:
    """Run the engine and ultralytics `.pt` on the images; ExportError listing disagreements if any.

    The engine runs once per letterbox mode: "opencv" (as in a training install) and "numpy" (as in the
    serving install, which has no OpenCV), so both configurations are proven against ultralytics.
    """
    from bonefrac.infer.predictor import Predictor

    if not images:
        raise ExportError("parity check needs at least one image; none were given")
    from bonefrac.errors import ModelError

    try:
        predictors = {mode: Predictor(onnx_path, use_cv2=mode == "opencv") for mode in letterbox_modes}
    except ModelError as exc:
        raise ExportError(f"parity check cannot run the exported model: {exc}") from exc
    input_size = next(iter(predictors.values())).input_size
    pixels = [img for _, img in images]
    reference = ultralytics_predict(weights, pixels, input_size, conf, iou, PARITY_MAX_DET)
    comparisons: list[tuple[str, ImageComparison]] = []
    for mode, predictor in predictors.items():
        for (name, img), ref in zip(images, reference, strict=True):
            cand = predictor.predict(img, conf=conf, iou=iou, max_det=PARITY_MAX_DET)
            label = f"{name} ({mode} letterbox)" if len(predictors) > 1 else name
            threshold = _effective_threshold(conf, ref, cand)
            comparison = compare_detections(
                label, ref, cand, threshold=threshold, min_iou=min_iou, conf_tol=conf_tol, tie_iou=iou
            )
            comparisons.append((name, comparison))
    from bonefrac.export.head_parity import compare_heads

    head, head_failures = compare_heads(predictors, weights, images, conf_tol=conf_tol)
    # Box disagreements are excused only where the scores are near-constant (NMS then keeps boxes by
    # float noise) and, checked below, the inputs and raw outputs agree.
    engine = next(iter(predictors.values()))
    failing = {name for name, c in comparisons if not judge([c], min_iou=min_iou, conf_tol=conf_tol).passed}
    tied = {name for name, img in images if name in failing and near_constant_scores(engine, img, conf)}
    if tied and not head_failures:
        logger.warning(
            "box parity excused on %d of %d images: the model's scores are near-constant (barely trained), "
            "so NMS keeps boxes by float noise; inputs and raw outputs agree",
            len(tied),
            len(images),
        )
    kept = [c for name, c in comparisons if head_failures or name not in tied]
    head = {**head, "box_check_excused_images": float(len(tied)) if not head_failures else 0.0}
    report = judge(kept, min_iou=min_iou, conf_tol=conf_tol).with_head(head, head_failures)
    logger.info("parity: %s", report.summary())
    if raise_on_failure and not report.passed:
        shown = "\n  ".join(report.failures[:10])
        more = f"\n  ... and {len(report.failures) - 10} more" if len(report.failures) > 10 else ""
        raise ExportError(
            f"parity check failed: {onnx_path} disagrees with {weights} on {len(report.failures)} counts "
            f"(required: every box matched with IoU > {min_iou}, confidence within {conf_tol:g}):\n  "
            f"{shown}{more}"
        )
    return report
