"""From matched predictions to the typed metric records: point estimates, bootstrap intervals and curves."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypedDict

import numpy as np

from bonefrac.evaluate import metrics as m
from bonefrac.evaluate.bootstrap import bootstrap_intervals
from bonefrac.evaluate.evaluator import PreparedEvaluation
from bonefrac.evaluate.record import (
    BackgroundMetrics,
    BootstrapSettings,
    BoxConfusion,
    BoxMetrics,
    ClassBoxMetrics,
    Counts,
    EvalMethod,
    EvalMetrics,
    FracturedOnlyBox,
    FrocCurve,
    FrocMetrics,
    FrocPoint,
    GroupMetrics,
    ImageConfusion,
    ImageMetrics,
    Metric,
    OperatingChoice,
    PrCurve,
    RocCurve,
    SizeBreakdown,
    SizeLimits,
    SizeMetrics,
)

Interval = tuple[float, float] | None
FRACTURED_ONLY = (
    "box metrics over only the images with at least one ground-truth box (FracAtlas paper's fractured-only "
    "test set); bootstrap resamples those images alone"
)


class _Measured:
    """Point values (name -> (1,) array) and intervals of one weighting; `metric(name)` makes the record."""

    def __init__(self, point: dict[str, np.ndarray], intervals: dict[str, Interval]) -> None:
        self.point, self.intervals = point, intervals

    def metric(self, name: str) -> Metric:
        return Metric(value=float(self.point[name][0]), ci95=self.intervals.get(name))


def _measure(
    prepared: PreparedEvaluation,
    threshold: float,
    resamples: int,
    seed: int,
    *,
    sizes: bool = True,
    mask: np.ndarray | None = None,
    within: np.ndarray | None = None,
) -> _Measured:
    """Metrics on all images, on a group (`mask`: resample the split, keep the group) or on a set of images
    of its own (`within`: resample only those)."""
    chosen = mask if mask is not None else within
    weights = np.ones(prepared.n_images) if chosen is None else np.asarray(chosen, dtype=np.float64)

    def compute(w: np.ndarray) -> dict[str, np.ndarray]:
        return prepared.metrics(w, threshold, sizes=sizes)

    point = compute(weights[None, :])
    intervals: dict[str, Interval] = {}
    if resamples and (chosen is None or np.any(chosen)):
        intervals = bootstrap_intervals(compute, prepared.n_images, resamples, seed, mask=mask, within=within)
    return _Measured(point, intervals)


def compute_results(
    prepared: PreparedEvaluation, choice: OperatingChoice, resamples: int, seed: int
) -> EvalMetrics:
    """Every metric of the split at the chosen threshold, with intervals and curves."""
    threshold = choice.threshold
    measured = _measure(prepared, threshold, resamples, seed)
    metric = measured.metric
    tp_i, fp_i = m.per_image_counts_at(prepared.pooled, threshold, prepared.settings.iou)
    positive = prepared.positive
    background = ~positive
    n_gt = int(prepared.pooled.gt_count.sum())
    return EvalMetrics(
        box=BoxMetrics(
            **_box_scores(metric),
            per_class={
                c: ClassBoxMetrics(
                    **{
                        key: metric(f"box.{key}.{c}")
                        for key in ("ap50", "ap50_95", "precision", "recall", "f1")
                    }
                )
                for c in prepared.class_names
            },
            confusion=BoxConfusion(tp=int(tp_i.sum()), fp=int(fp_i.sum()), fn=int(n_gt - tp_i.sum())),
            pr_curves={
                c: PrCurve(
                    **m.precision_recall_curve(
                        prepared.class_tables[i], prepared.settings.iou, prepared.settings.max_dets
                    )
                )
                for i, c in enumerate(prepared.class_names)
            },
        ),
        box_fractured_only=fractured_only_box(prepared, threshold, resamples, seed),
        image=_image_metrics(prepared, threshold, metric),
        froc=_froc_metrics(prepared, metric),
        operating_point=choice,
        background=BackgroundMetrics(
            images=int(background.sum()),
            fp_boxes=int((fp_i * background).sum()),
            images_with_fp=int(((fp_i > 0) & background).sum()),
            fp_boxes_per_image=metric("background.fp_boxes_per_image"),
            image_fp_rate=metric("background.image_fp_rate"),
        ),
        by_size=_by_size(prepared, metric),
        counts=Counts(
            images=prepared.n_images,
            positive_images=int(positive.sum()),
            background_images=int(background.sum()),
            boxes=n_gt,
        ),
        settings=EvalMethod(
            iou_thresholds_ap=[round(float(t), 2) for t in prepared.class_tables[0].iou_thresholds],
            ap_interpolation="COCO 101-point (pycocotools COCOeval.accumulate)",
            max_dets_per_image_for_ap=prepared.settings.max_dets,
            iou_for_threshold_metrics_and_froc=prepared.settings.iou,
            image_score="highest box confidence in the image (0 without boxes)",
            fractured_only=FRACTURED_ONLY,
            bootstrap=BootstrapSettings(
                resamples=resamples, seed=seed, method="percentile, images resampled"
            ),
        ),
    )


def fractured_only_box(
    prepared: PreparedEvaluation, threshold: float, resamples: int, seed: int
) -> FracturedOnlyBox:
    """Box metrics on only the images with ground truth, as if they were the whole test set."""
    within = prepared.positive
    measured = _measure(prepared, threshold, resamples, seed, sizes=False, within=within)
    return FracturedOnlyBox(
        **_box_scores(measured.metric),
        images=int(within.sum()),
        boxes=int(prepared.pooled.gt_count.sum()),
    )


def fractured_only_paths(prepared: PreparedEvaluation) -> list[str]:
    """The images the fractured-only protocol keeps (those with at least one ground-truth box)."""
    return [str(p.path) for p, keep in zip(prepared.predictions, prepared.positive, strict=True) if keep]


def breakdown_by_groups(
    prepared: PreparedEvaluation, masks: dict[str, np.ndarray], threshold: float, resamples: int, seed: int
) -> dict[str, GroupMetrics]:
    """Main metrics per group of images with intervals (the whole split resampled, the group kept)."""
    groups = {}
    for group, mask in masks.items():
        metric = _measure(prepared, threshold, resamples, seed, sizes=False, mask=mask).metric
        groups[group] = GroupMetrics(
            images=int(mask.sum()),
            positive_images=int((mask & prepared.positive).sum()),
            map50=metric("box.map50"),
            map50_95=metric("box.map50_95"),
            box_recall=metric("box.recall"),
            auroc=metric("image.auroc"),
            sensitivity=metric("image.sensitivity"),
            specificity=metric("image.specificity"),
            froc_score=metric("froc.score"),
        )
    return groups


class _BoxScoreFields(TypedDict):
    """The fields of `BoxScores`, to be spread into a record that extends it."""

    map50: Metric
    map50_95: Metric
    precision: Metric
    recall: Metric
    f1: Metric


def _box_scores(metric: Callable[[str], Metric]) -> _BoxScoreFields:
    return _BoxScoreFields(
        map50=metric("box.map50"),
        map50_95=metric("box.map50_95"),
        precision=metric("box.precision"),
        recall=metric("box.recall"),
        f1=metric("box.f1"),
    )


def _image_metrics(
    prepared: PreparedEvaluation, threshold: float, metric: Callable[[str], Metric]
) -> ImageMetrics:
    positive, called = prepared.positive, prepared.scores >= threshold
    fpr, tpr, thresholds = m.roc_curve(prepared.scores, positive)
    return ImageMetrics(
        auroc=metric("image.auroc"),
        sensitivity=metric("image.sensitivity"),
        specificity=metric("image.specificity"),
        threshold=threshold,
        confusion=ImageConfusion(
            tp=int((positive & called).sum()),
            fn=int((positive & ~called).sum()),
            fp=int((~positive & called).sum()),
            tn=int((~positive & ~called).sum()),
        ),
        roc=RocCurve(
            fpr=fpr.tolist(),
            tpr=tpr.tolist(),
            thresholds=[t if math.isfinite(t) else None for t in thresholds.tolist()],
        ),
    )


def _froc_metrics(prepared: PreparedEvaluation, metric: Callable[[str], Metric]) -> FrocMetrics:
    fp, sensitivity, thresholds = m.froc_curve(prepared.pooled, prepared.settings.iou)
    return FrocMetrics(
        score=metric("froc.score"),
        points=[FrocPoint(fp_per_image=rate, sensitivity=metric(f"froc.{rate:g}")) for rate in m.FROC_RATES],
        curve=_thin_curve(fp, sensitivity, thresholds),
    )


def _by_size(prepared: PreparedEvaluation, metric: Callable[[str], Metric]) -> SizeBreakdown:
    small, large = prepared.settings.size_limits

    def size(name: str) -> SizeMetrics:
        return SizeMetrics(
            boxes=prepared.size_box_counts[name],
            ap50=metric(f"size.{name}.ap50"),
            ap50_95=metric(f"size.{name}.ap50_95"),
            recall=metric(f"size.{name}.recall"),
        )

    return SizeBreakdown(
        limits=SizeLimits(
            small=f"box area < {small:.2%} of the image",
            medium=f"{small:.2%} .. {large:.2%}",
            large=f"> {large:.2%} of the image",
            relative=(small, large),
        ),
        small=size("small"),
        medium=size("medium"),
        large=size("large"),
    )


def _thin_curve(x: np.ndarray, y: np.ndarray, thr: np.ndarray, limit: int = 400) -> FrocCurve:
    """At most `limit` points of a curve (evenly spaced by index), always keeping the last one."""
    if x.size > limit:
        index = np.unique(np.concatenate([np.linspace(0, x.size - 1, limit).astype(int), [x.size - 1]]))
        x, y, thr = x[index], y[index], thr[index]
    return FrocCurve(fp_per_image=x.tolist(), sensitivity=y.tolist(), threshold=thr.tolist())
