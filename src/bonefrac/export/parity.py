"""Parity: the ONNX engine and ultralytics' own `.pt` predictor must find the same boxes on the same images.

Both see the image the same way (square letterbox at the export size: ultralytics runs with rect=False),
then every box of either side must have a partner of the same class with IoU > `min_iou` and a confidence
within `conf_tol`. Boxes whose confidence sits within `conf_tol` of the threshold may appear on one side only
(0.0100 vs 0.0099 is not a disagreement). `compare_detections` also compares the int8 model with fp32.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bonefrac.errors import ExportError
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


@dataclass(frozen=True)
class ParityReport:
    """The comparison over all images and whether it passes the tolerances."""

    images: tuple[ImageComparison, ...]
    min_iou_required: float
    conf_tolerance: float
    failures: tuple[str, ...] = field(default=())

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
        }


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def compare_detections(
    name: str,
    reference: Detections,
    candidate: Detections,
    *,
    threshold: float,
    min_iou: float = 0.99,
    conf_tol: float = 1e-3,
) -> ImageComparison:
    """Greedy one-to-one matching (same class, highest IoU first) of two detection sets of one image."""
    n_ref, n_cand = len(reference), len(candidate)
    pairs: list[tuple[int, int, float]] = []
    if n_ref and n_cand:
        iou = _iou_matrix(reference.xyxy.astype(np.float64), candidate.xyxy.astype(np.float64))
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
    matched_ref = {i for i, _, _ in pairs}
    matched_cand = {j for _, j, _ in pairs}
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
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    model = YOLO(str(weights))
    names = tuple(str(model.names[k]) for k in sorted(model.names))
    out = []
    for image in images:
        bgr = np.ascontiguousarray(image.pixels[:, :, ::-1])
        result = model.predict(
            source=bgr,
            imgsz=imgsz,
            conf=conf,
            iou=iou,
            max_det=max_det,
            rect=False,
            device="cpu",
            verbose=False,
            save=False,
        )[0]
        boxes = result.boxes
        out.append(
            Detections(
                boxes.xyxy.cpu().numpy(),
                boxes.conf.cpu().numpy(),
                boxes.cls.cpu().numpy().astype(np.int64),
                names,
            )
        )
    return out


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
) -> ParityReport:
    """Run the engine and ultralytics `.pt` on the images; ExportError listing disagreements if any."""
    from bonefrac.infer.predictor import Predictor

    if not images:
        raise ExportError("parity check needs at least one image; none were given")
    from bonefrac.errors import ModelError

    try:
        predictor = Predictor(onnx_path)
    except ModelError as exc:
        raise ExportError(f"parity check cannot run the exported model: {exc}") from exc
    engine = [predictor.predict(img, conf=conf, iou=iou, max_det=PARITY_MAX_DET) for _, img in images]
    reference = ultralytics_predict(
        weights, [img for _, img in images], predictor.input_size, conf, iou, PARITY_MAX_DET
    )
    comparisons = [
        compare_detections(
            name,
            ref,
            cand,
            threshold=_effective_threshold(conf, ref, cand),
            min_iou=min_iou,
            conf_tol=conf_tol,
        )
        for (name, _), ref, cand in zip(images, reference, engine, strict=True)
    ]
    report = judge(comparisons, min_iou=min_iou, conf_tol=conf_tol)
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
