"""The detection evaluator (detectron2 style: reset / process / evaluate) and the metric table it computes.

`DetectionEvaluator.process` collects one image's predictions and ground truth; `evaluate` matches them
once and returns a `PreparedEvaluation`, whose `metrics(weights, threshold)` gives every named metric for
each row of a weight matrix (see metrics.py): ones for the plain evaluation, 0/1 for a group of images,
multinomial counts for bootstrap resamples.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from bonefrac.errors import EvaluationError
from bonefrac.evaluate import metrics as m
from bonefrac.evaluate.matching import IOU_THRESHOLDS, MatchTable, build_match_table, relative_area
from bonefrac.evaluate.predictions import GroundTruth, ImagePrediction

# Box size relative to the image area. The defaults are COCO's 32^2 and 96^2 pixel limits on a 640x640 image.
DEFAULT_SIZE_LIMITS = (32**2 / 640**2, 96**2 / 640**2)
SIZE_NAMES = ("small", "medium", "large")


@dataclass(frozen=True)
class EvalSettings:
    """How boxes are counted; stated in eval.json and in the report."""

    max_dets: int = 100  # per image and class for AP, as COCO
    iou: float = 0.5  # IoU for true positives at the operating threshold and for FROC
    size_limits: tuple[float, float] = DEFAULT_SIZE_LIMITS

    def size_ranges(self) -> dict[str, tuple[float, float]]:
        small, large = self.size_limits
        if not 0 < small < large < 1:
            raise EvaluationError(f"size limits must satisfy 0 < small < large < 1, got {self.size_limits}")
        return {"small": (0.0, small), "medium": (small, large), "large": (large, float("inf"))}


@dataclass(frozen=True)
class PreparedEvaluation:
    """Matched predictions of a whole split, ready for weighted metrics."""

    class_names: tuple[str, ...]
    predictions: tuple[ImagePrediction, ...]
    truths: tuple[GroundTruth, ...]
    settings: EvalSettings
    class_tables: tuple[MatchTable, ...]  # one per class, all IoU thresholds, all sizes
    pooled: MatchTable  # all classes together, at settings.iou
    size_tables: dict[str, tuple[MatchTable, ...]]  # size -> one per class
    size_pooled: dict[str, MatchTable]  # size -> all classes at settings.iou
    scores: np.ndarray  # (N,) highest box confidence per image, 0 without boxes
    positive: np.ndarray  # (N,) image has at least one ground-truth box
    size_box_counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        return len(self.predictions)

    def metrics(self, weights: np.ndarray, threshold: float, sizes: bool = True) -> dict[str, np.ndarray]:
        """Every metric for each weight row, as name -> (B,) array (NaN where undefined).

        `sizes=False` leaves out the per-box-size metrics (half the work; for group breakdowns).
        """
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        out: dict[str, np.ndarray] = {}
        iou = self.settings.iou
        ap50, ap = [], []
        for name, table in zip(self.class_names, self.class_tables, strict=True):
            values = m.average_precision(table, w, self.settings.max_dets)
            out[f"box.ap50.{name}"], out[f"box.ap50_95.{name}"] = values[:, 0], _nanmean(values, axis=1)
            ap50.append(values[:, 0])
            ap.append(out[f"box.ap50_95.{name}"])
            p, r, f1 = m.box_precision_recall_f1(_at_iou(table, iou), w, threshold, iou)
            out[f"box.precision.{name}"], out[f"box.recall.{name}"], out[f"box.f1.{name}"] = p, r, f1
        out["box.map50"] = _nanmean(np.stack(ap50, axis=1), axis=1)
        out["box.map50_95"] = _nanmean(np.stack(ap, axis=1), axis=1)
        out["box.precision"], out["box.recall"], out["box.f1"] = m.box_precision_recall_f1(
            self.pooled, w, threshold, iou
        )
        out["image.auroc"] = m.auroc(self.scores, self.positive, w)
        out["image.sensitivity"], out["image.specificity"] = m.sensitivity_specificity(
            self.scores, self.positive, w, threshold
        )
        froc = m.froc_sensitivities(self.pooled, w, m.FROC_RATES, iou)
        for j, rate in enumerate(m.FROC_RATES):
            out[f"froc.{rate:g}"] = froc[:, j]
        out["froc.score"] = froc.mean(axis=1)
        for size in SIZE_NAMES if sizes else ():
            values = np.stack(
                [m.average_precision(t, w, self.settings.max_dets) for t in self.size_tables[size]], axis=1
            )
            out[f"size.{size}.ap50"] = _nanmean(values[:, :, 0], axis=1)
            out[f"size.{size}.ap50_95"] = _nanmean(_nanmean(values, axis=2), axis=1)
            out[f"size.{size}.recall"] = m.box_precision_recall_f1(self.size_pooled[size], w, threshold, iou)[
                1
            ]
        _, fp_i = m.per_image_counts_at(self.pooled, threshold, iou)
        background = (~self.positive).astype(np.float64)
        n_background = w @ background
        with np.errstate(divide="ignore", invalid="ignore"):
            out["background.fp_boxes_per_image"] = np.where(
                n_background > 0, (w @ (fp_i * background)) / n_background, np.nan
            )
            out["background.image_fp_rate"] = np.where(
                n_background > 0, (w @ ((fp_i > 0) * background)) / n_background, np.nan
            )
        return out


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def _at_iou(table: MatchTable, iou: float) -> MatchTable:
    """The same table restricted to one IoU threshold."""
    t = table.at_iou(iou)
    return MatchTable(
        table.image_index,
        table.score,
        table.rank,
        table.tp[t : t + 1],
        table.ignored[t : t + 1],
        table.gt_count,
        table.iou_thresholds[t : t + 1],
    )


class DetectionEvaluator:
    """Collects predictions and ground truth image by image, then matches them all at once."""

    def __init__(self, class_names: tuple[str, ...], settings: EvalSettings | None = None) -> None:
        if not class_names:
            raise EvaluationError("class_names must name at least one class")
        self.class_names = tuple(class_names)
        self.settings = settings or EvalSettings()
        self.reset()

    def reset(self) -> None:
        self._predictions: list[ImagePrediction] = []
        self._truths: list[GroundTruth] = []

    def process(self, prediction: ImagePrediction, truth: GroundTruth) -> None:
        if prediction.path != truth.path:
            raise EvaluationError(
                f"prediction for {prediction.path} paired with ground truth of {truth.path}"
            )
        n = len(self.class_names)
        det_ids, gt_ids = prediction.detections.class_id, truth.class_id
        if (det_ids.size and (det_ids.min() < 0 or det_ids.max() >= n)) or (
            gt_ids.size and (gt_ids.min() < 0 or gt_ids.max() >= n)
        ):
            raise EvaluationError(
                f"{prediction.path}: class ids must be in 0..{n - 1} for {self.class_names}"
            )
        self._predictions.append(prediction)
        self._truths.append(truth)

    def evaluate(self) -> PreparedEvaluation:
        if not self._predictions:
            raise EvaluationError("nothing to evaluate: process() was never called")
        preds, truths = tuple(self._predictions), tuple(self._truths)
        n_classes = len(self.class_names)
        iou = np.array([self.settings.iou])
        class_tables = tuple(build_match_table(preds, truths, c) for c in range(n_classes))
        size_tables, size_pooled, size_counts = {}, {}, {}
        ranges = self.settings.size_ranges()
        for size in SIZE_NAMES:
            size_tables[size] = tuple(
                build_match_table(preds, truths, c, area_range=ranges[size]) for c in range(n_classes)
            )
            size_pooled[size] = build_match_table(preds, truths, None, ranges[size], iou)
            size_counts[size] = int(size_pooled[size].gt_count.sum())
        highest = [float(p.detections.confidence.max()) if len(p.detections) else 0.0 for p in preds]
        return PreparedEvaluation(
            class_names=self.class_names,
            predictions=preds,
            truths=truths,
            settings=self.settings,
            class_tables=class_tables,
            pooled=build_match_table(preds, truths, None, iou_thresholds=iou),
            size_tables=size_tables,
            size_pooled=size_pooled,
            scores=m.image_scores(np.asarray(highest)),
            positive=np.array([not t.is_background for t in truths]),
            size_box_counts=size_counts,
        )


def box_size_name(truth: GroundTruth, settings: EvalSettings) -> list[str]:
    """The size class of each ground-truth box of an image (for galleries and reports)."""
    small, large = settings.size_limits
    areas = relative_area(truth.xyxy, truth.width, truth.height)
    return ["small" if a < small else "large" if a > large else "medium" for a in areas]


__all__ = ["DetectionEvaluator", "EvalSettings", "PreparedEvaluation", "IOU_THRESHOLDS", "box_size_name"]
