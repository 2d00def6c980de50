"""`bonefrac evaluate`: predict once, compute every metric with intervals, choose the operating point, write
eval.json, predictions.json, report.html and the model card. Reads top to bottom."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from bonefrac import __version__
from bonefrac.card.record import card_path_for
from bonefrac.config import StrictModel
from bonefrac.data.yolo_format import load_dataset
from bonefrac.errors import EvaluationError
from bonefrac.evaluate import metrics as m
from bonefrac.evaluate.bootstrap import bootstrap_intervals
from bonefrac.evaluate.evaluator import SIZE_NAMES, DetectionEvaluator, EvalSettings, PreparedEvaluation
from bonefrac.evaluate.metadata import group_images
from bonefrac.evaluate.operating_point import (
    OperatingChoice,
    choose_operating_point,
    sha256_of,
    write_operating_point,
)
from bonefrac.evaluate.predictions import (
    DEFAULT_CONF_FLOOR,
    PredictionSet,
    load_ground_truth,
    load_predictions,
    predict_split,
    save_predictions,
    split_images,
    weights_kind,
)

logger = logging.getLogger(__name__)

EVAL_FORMAT = "bonefrac.eval/1"


class EvaluateOptions(StrictModel):
    """Everything `bonefrac evaluate` takes."""

    weights: Path
    data: Path
    split: str = "test"
    out: Path | None = None  # default: <weights folder>/eval-<split>
    rule: Literal["target-sensitivity", "max-f1", "card", "fixed"] = "target-sensitivity"
    target_sensitivity: float = Field(0.9, gt=0.0, le=1.0)
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    bootstrap: int = Field(1000, ge=0)
    seed: int = 0
    metadata: Path | None = None
    metadata_column: str | None = None
    metadata_key: str | None = None
    conf_floor: float = Field(DEFAULT_CONF_FLOOR, ge=0.0, lt=1.0)
    imgsz: int | None = Field(None, ge=32)
    size_limits: tuple[float, float] = EvalSettings().size_limits
    ultralytics_val: bool = True
    write_card: bool = True
    predictions: Path | None = None  # reuse a predictions.json instead of predicting again
    report: bool = True


@dataclass(frozen=True)
class EvalOutcome:
    """Where the outputs went, and the eval.json content."""

    out_dir: Path
    eval_json: Path
    report_html: Path | None
    card_path: Path | None
    result: dict[str, Any]


def metric_entry(value: float, interval: tuple[float, float] | None = None) -> dict[str, Any]:
    """{"value": v, "ci95": [lo, hi] or null}; NaN (undefined) becomes null."""
    finite = value is not None and math.isfinite(value)
    return {
        "value": float(value) if finite else None,
        "ci95": [float(interval[0]), float(interval[1])] if interval is not None else None,
    }


def run_evaluation(options: EvaluateOptions) -> EvalOutcome:
    started = time.perf_counter()
    if (options.metadata is None) != (options.metadata_column is None):
        raise EvaluationError(
            "--metadata and --metadata-column go together (COL, or NAME=COL1,COL2 for one-hot columns)"
        )
    kind = weights_kind(options.weights)
    spec = load_dataset(options.data)
    images = split_images(spec, options.split)
    out_dir = Path(options.out or Path(options.weights).parent / f"eval-{options.split}")
    out_dir.mkdir(parents=True, exist_ok=True)

    if options.predictions is not None:
        predictions = load_predictions(options.predictions)
        _check_reused(predictions, options, spec.class_names)
    else:
        predictions = predict_split(
            options.weights,
            images,
            split=options.split,
            class_names=spec.class_names,
            conf_floor=options.conf_floor,
            imgsz=options.imgsz,
        )
    predictions_path = save_predictions(predictions, out_dir / "predictions.json")
    predictions = load_predictions(predictions_path)  # metrics come from what was saved
    truths = load_ground_truth(predictions)

    settings = EvalSettings(size_limits=options.size_limits)
    evaluator = DetectionEvaluator(spec.class_names, settings)
    for prediction, truth in zip(predictions.images, truths, strict=True):
        evaluator.process(prediction, truth)
    prepared = evaluator.evaluate()

    card_path = card_path_for(options.weights)
    choice = choose_operating_point(
        prepared,
        options.rule,
        split=options.split,
        conf_floor=predictions.conf_floor,
        target_sensitivity=options.target_sensitivity,
        fixed_threshold=options.threshold,
        card_path=card_path,
    )
    result = compute_results(prepared, choice, options.bootstrap, options.seed)
    if options.metadata is not None:
        grouping = group_images(
            options.metadata,
            options.metadata_column,
            [p.path for p in prepared.predictions],
            options.metadata_key,
        )
        result["by_metadata"] = breakdown_by_groups(
            prepared, grouping.masks(), choice.threshold, options.bootstrap, options.seed
        )
        result["by_metadata"].update(
            {"column": grouping.name, "csv": str(options.metadata), "images_without_row": grouping.unmatched}
        )
    if kind == "pt" and options.ultralytics_val:
        from bonefrac.evaluate.ultralytics_val import ultralytics_figures

        result["box"]["ultralytics"] = ultralytics_figures(
            options.weights, options.data, options.split, predictions.imgsz
        )
    result.update(_provenance(options, predictions, spec.fingerprint, kind, time.perf_counter() - started))

    written_card = None
    if options.write_card and options.rule != "card":
        written_card = write_operating_point(
            options.weights,
            choice,
            sensitivity=result["image"]["sensitivity"]["value"],
            specificity=result["image"]["specificity"]["value"],
            class_names=spec.class_names,
            input_size=predictions.imgsz,
            summary=card_summary(result),
            dataset_fingerprint=spec.fingerprint,
        )
    eval_json = out_dir / "eval.json"
    eval_json.write_text(json.dumps(_json_safe(result), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    report_path = None
    if options.report:
        from bonefrac.evaluate.report import write_report

        report_path = write_report(result, prepared, out_dir / "report.html")
    logger.info("evaluation written to %s", out_dir)
    return EvalOutcome(out_dir, eval_json, report_path, written_card, result)


def _check_reused(predictions: PredictionSet, options: EvaluateOptions, class_names: tuple[str, ...]) -> None:
    if predictions.split != options.split or tuple(predictions.class_names) != tuple(class_names):
        raise EvaluationError(
            f"{options.predictions} holds split {predictions.split!r} "
            f"with classes {predictions.class_names}; "
            f"this evaluation is of split {options.split!r} with classes {class_names}"
        )


def compute_results(
    prepared: PreparedEvaluation, choice: OperatingChoice, resamples: int, seed: int
) -> dict[str, Any]:
    """Point estimates, bootstrap intervals and curves, nested as eval.json holds them."""
    threshold = choice.threshold
    point = {k: float(v[0]) for k, v in prepared.metrics(np.ones((1, prepared.n_images)), threshold).items()}
    ci: dict[str, Any] = {}
    if resamples:
        ci = bootstrap_intervals(lambda w: prepared.metrics(w, threshold), prepared.n_images, resamples, seed)

    def entry(name: str) -> dict[str, Any]:
        return metric_entry(point[name], ci.get(name))

    names = prepared.class_names
    tp_i, fp_i = m.per_image_counts_at(prepared.pooled, threshold, prepared.settings.iou)
    called = prepared.scores >= threshold
    positive = prepared.positive
    n_gt = int(prepared.pooled.gt_count.sum())
    fpr, tpr, roc_thresholds = m.roc_curve(prepared.scores, positive)
    froc_fp, froc_sens, froc_thr = m.froc_curve(prepared.pooled, prepared.settings.iou)
    background = ~positive
    return {
        "format": EVAL_FORMAT,
        "box": {
            "mAP50": entry("box.mAP50"),
            "mAP50_95": entry("box.mAP50_95"),
            "precision": entry("box.precision"),
            "recall": entry("box.recall"),
            "f1": entry("box.f1"),
            "per_class": {
                c: {key: entry(f"box.{key}.{c}") for key in ("AP50", "AP50_95", "precision", "recall", "f1")}
                for c in names
            },
            "confusion": {"tp": int(tp_i.sum()), "fp": int(fp_i.sum()), "fn": int(n_gt - tp_i.sum())},
            "pr_curves": {
                c: m.precision_recall_curve(
                    _table_at(prepared, i), prepared.settings.iou, prepared.settings.max_dets
                )
                for i, c in enumerate(names)
            },
        },
        "image": {
            "auroc": entry("image.auroc"),
            "sensitivity": entry("image.sensitivity"),
            "specificity": entry("image.specificity"),
            "threshold": threshold,
            "confusion": {
                "tp": int((positive & called).sum()),
                "fn": int((positive & ~called).sum()),
                "fp": int((background & called).sum()),
                "tn": int((background & ~called).sum()),
            },
            "roc": {
                "fpr": fpr.tolist(),
                "tpr": tpr.tolist(),
                "thresholds": [None if not math.isfinite(t) else t for t in roc_thresholds.tolist()],
            },
        },
        "froc": {
            "score": entry("froc.score"),
            "points": [
                {"fp_per_image": rate, "sensitivity": entry(f"froc.{rate:g}")} for rate in m.FROC_RATES
            ],
            "curve": _thin_curve(froc_fp, froc_sens, froc_thr),
        },
        "operating_point": choice.to_dict(),
        "background": {
            "images": int(background.sum()),
            "fp_boxes": int((fp_i * background).sum()),
            "images_with_fp": int(((fp_i > 0) & background).sum()),
            "fp_boxes_per_image": entry("background.fp_boxes_per_image"),
            "image_fp_rate": entry("background.image_fp_rate"),
        },
        "by_size": {
            "limits": {
                "small": f"box area < {prepared.settings.size_limits[0]:.2%} of the image",
                "medium": f"{prepared.settings.size_limits[0]:.2%} .. {prepared.settings.size_limits[1]:.2%}",
                "large": f"> {prepared.settings.size_limits[1]:.2%} of the image",
                "relative": list(prepared.settings.size_limits),
            },
            **{
                size: {
                    "boxes": prepared.size_box_counts[size],
                    "AP50": entry(f"size.{size}.AP50"),
                    "AP50_95": entry(f"size.{size}.AP50_95"),
                    "recall": entry(f"size.{size}.recall"),
                }
                for size in SIZE_NAMES
            },
        },
        "counts": {
            "images": prepared.n_images,
            "positive_images": int(positive.sum()),
            "background_images": int(background.sum()),
            "boxes": n_gt,
        },
        "settings": {
            "iou_thresholds_ap": [round(float(t), 2) for t in prepared.class_tables[0].iou_thresholds],
            "ap_interpolation": "COCO 101-point (pycocotools COCOeval.accumulate)",
            "max_dets_per_image_for_ap": prepared.settings.max_dets,
            "iou_for_threshold_metrics_and_froc": prepared.settings.iou,
            "image_score": "highest box confidence in the image (0 without boxes)",
            "bootstrap": {"resamples": resamples, "seed": seed, "method": "percentile, images resampled"},
        },
    }


def breakdown_by_groups(
    prepared: PreparedEvaluation, masks: dict[str, np.ndarray], threshold: float, resamples: int, seed: int
) -> dict[str, Any]:
    """Main metrics per group of images, each with its interval."""
    keys = (
        "box.mAP50",
        "box.mAP50_95",
        "box.recall",
        "image.auroc",
        "image.sensitivity",
        "image.specificity",
        "froc.score",
    )
    groups: dict[str, Any] = {}
    for group, mask in masks.items():
        weights = mask.astype(np.float64)[None, :]
        point = prepared.metrics(weights, threshold, sizes=False)
        ci: dict[str, Any] = {}
        if resamples:
            ci = bootstrap_intervals(
                lambda w: prepared.metrics(w, threshold, sizes=False),
                prepared.n_images,
                resamples,
                seed,
                mask=mask,
            )
        groups[group] = {
            "images": int(mask.sum()),
            "positive_images": int((mask & prepared.positive).sum()),
            **{key: metric_entry(float(point[key][0]), ci.get(key)) for key in keys},
        }
    return {"groups": groups}


def card_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a model card carries about the evaluation."""
    return {
        "split": result["data"]["split"],
        "mAP50": result["box"]["mAP50"]["value"],
        "mAP50_95": result["box"]["mAP50_95"]["value"],
        "auroc": result["image"]["auroc"]["value"],
        "sensitivity": result["image"]["sensitivity"]["value"],
        "specificity": result["image"]["specificity"]["value"],
        "froc_score": result["froc"]["score"]["value"],
        "images": result["counts"]["images"],
        "dataset_fingerprint": result["data"]["fingerprint"],
    }


def _table_at(prepared: PreparedEvaluation, class_index: int):  # noqa: ANN202 - MatchTable
    return prepared.class_tables[class_index]


def _thin_curve(x: np.ndarray, y: np.ndarray, thr: np.ndarray, limit: int = 400) -> dict[str, list[float]]:
    """At most `limit` points of a curve (evenly spaced by index), always keeping the last one."""
    if x.size > limit:
        index = np.unique(np.concatenate([np.linspace(0, x.size - 1, limit).astype(int), [x.size - 1]]))
        x, y, thr = x[index], y[index], thr[index]
    return {"fp_per_image": x.tolist(), "sensitivity": y.tolist(), "threshold": thr.tolist()}


def _provenance(
    options: EvaluateOptions, predictions: PredictionSet, fingerprint: str, kind: str, seconds: float
) -> dict[str, Any]:
    return {
        "model": {
            "weights": str(Path(options.weights).resolve()),
            "kind": kind,
            "sha256": sha256_of(options.weights),
            "imgsz": predictions.imgsz,
            "class_names": list(predictions.class_names),
        },
        "data": {
            "yaml": str(Path(options.data).resolve()),
            "split": options.split,
            "fingerprint": fingerprint,
            "conf_floor": predictions.conf_floor,
            "skipped_images": list(predictions.skipped),
        },
        "produced_by": {"bonefrac": __version__},
        "seconds": round(seconds, 2),
    }


def _json_safe(value: Any) -> Any:
    """NaN and infinities (undefined metrics) as null, so eval.json is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
