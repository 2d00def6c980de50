"""`bonefrac evaluate`: predict once, compute every metric with intervals, choose the operating point, write
eval.json, predictions.json, report.html and, only when asked (write_card), the model card. Reads top to
bottom."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bonefrac import __version__
from bonefrac.card.record import OperatingPoints, card_path_for, read_model_card
from bonefrac.config import StrictModel
from bonefrac.data.yolo_format import load_dataset
from bonefrac.errors import EvaluationError
from bonefrac.evaluate.eval_file import EVAL_FILENAME, write_eval_report
from bonefrac.evaluate.evaluator import DetectionEvaluator, EvalSettings, PreparedEvaluation
from bonefrac.evaluate.metadata import group_images
from bonefrac.evaluate.operating_point import (
    check_test_choice,
    choose_operating_point,
    resolve_rule,
    write_operating_point,
)
from bonefrac.evaluate.predictions import (
    DEFAULT_CONF_FLOOR,
    PredictionSet,
    WeightKind,
    load_ground_truth,
    load_predictions,
    predict_split,
    save_predictions,
    split_images,
    weights_kind,
)
from bonefrac.evaluate.record import DataInfo, EvalReport, MetadataBreakdown, ModelInfo, TwoTierMetrics
from bonefrac.evaluate.results import breakdown_by_groups, compute_results
from bonefrac.evaluate.two_tier import (
    card_classifier_path,
    choose_operating_points,
    classifier_probabilities,
    measure_two_tier,
    write_two_tier,
)
from bonefrac.hashing import file_sha256

logger = logging.getLogger(__name__)


class EvaluateOptions(StrictModel):
    """Everything `bonefrac evaluate` takes."""

    weights: Path
    data: Path
    split: str = "test"
    out: Path | None = None  # default: <weights folder>/eval-<split>
    rule: Literal["auto", "target-sensitivity", "max-f1", "card", "fixed"] = "auto"
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
    write_card: bool = False  # writing into model_card.json is an explicit act
    force_test_choice: bool = False  # choose an operating point on the test split anyway (optimistic)
    predictions: Path | None = None  # reuse a predictions.json instead of predicting again
    report: bool = True
    classifier: Path | None = None  # an exported classifier.onnx whose probability is fused into the score
    two_tier: bool = False  # choose both tiers on this split (with rule card: measure the card's)
    target_specificity: float = Field(0.9, gt=0.0, le=1.0)
    engine: str = "onnxruntime"  # what runs an .onnx detector and the classifier (bonefrac.infer.engines)


@dataclass(frozen=True)
class EvalOutcome:
    """Where the outputs went, and the evaluation record eval.json holds."""

    out_dir: Path
    eval_json: Path
    report_html: Path | None
    card_path: Path | None  # the model card written, or None
    report: EvalReport
    rule: str  # the rule applied (auto resolved)
    warning: str | None = None  # set when the operating point was chosen on the test split (forced)


def run_evaluation(options: EvaluateOptions) -> EvalOutcome:
    started = time.perf_counter()
    if (options.metadata is None) != (options.metadata_column is None):
        raise EvaluationError(
            "--metadata and --metadata-column go together (COL, or NAME=COL1,COL2 for one-hot columns)"
        )
    kind = weights_kind(options.weights)
    spec = load_dataset(options.data)
    images = split_images(spec, options.split)
    card_path = card_path_for(options.weights)
    rule = resolve_rule(options.rule, card_path, write_card=options.write_card)
    warning = check_test_choice(
        options.rule,
        rule,
        split=options.split,
        two_tier=options.two_tier,
        force=options.force_test_choice,
        card_path=card_path,
    )
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
            engine=options.engine,
        )
    predictions_path = save_predictions(predictions, out_dir / "predictions.json")
    predictions = load_predictions(predictions_path)  # metrics come from what was saved
    truths = load_ground_truth(predictions)

    settings = EvalSettings(size_limits=options.size_limits)
    evaluator = DetectionEvaluator(spec.class_names, settings)
    for prediction, truth in zip(predictions.images, truths, strict=True):
        evaluator.process(prediction, truth)
    prepared = evaluator.evaluate()

    choice = choose_operating_point(
        prepared,
        rule,
        split=options.split,
        conf_floor=predictions.conf_floor,
        target_sensitivity=options.target_sensitivity,
        fixed_threshold=options.threshold,
        card_path=card_path,
    )
    if warning is not None:
        choice = choice.model_copy(update={"note": "; ".join(filter(None, (choice.note, warning)))})
    measured = compute_results(prepared, choice, options.bootstrap, options.seed)
    if options.metadata is not None and options.metadata_column is not None:  # both or neither (checked)
        grouping = group_images(
            options.metadata,
            options.metadata_column,
            [p.path for p in prepared.predictions],
            options.metadata_key,
        )
        by_metadata = MetadataBreakdown(
            column=grouping.name,
            csv=str(options.metadata),
            images_without_row=grouping.unmatched,
            groups=breakdown_by_groups(
                prepared, grouping.masks(), choice.threshold, options.bootstrap, options.seed
            ),
        )
        measured = measured.model_copy(update={"by_metadata": by_metadata})
    two_tier_points = None
    if options.two_tier or _card_has_tiers(rule, card_path):
        two_tier_points, two_tier = _two_tier(
            options, rule, prepared, predictions.conf_floor, out_dir, card_path
        )
        measured = measured.model_copy(update={"two_tier": two_tier})
    if kind == "pt" and options.ultralytics_val:
        from bonefrac.evaluate.ultralytics_val import ultralytics_figures

        figures = ultralytics_figures(options.weights, options.data, options.split, predictions.imgsz)
        measured = measured.model_copy(
            update={"box": measured.box.model_copy(update={"ultralytics": figures})}
        )
    report = EvalReport(
        **dict(measured),
        **_provenance(options, predictions, spec.fingerprint, kind),
        produced_by={"bonefrac": __version__},
        seconds=round(time.perf_counter() - started, 2),
    )

    written_card = None
    if options.write_card and rule != "card":
        written_card = write_operating_point(
            options.weights,
            choice,
            sensitivity=report.image.sensitivity.value,
            specificity=report.image.specificity.value,
            class_names=spec.class_names,
            input_size=predictions.imgsz,
            summary=card_summary(report),
            dataset_fingerprint=spec.fingerprint,
        )
        if two_tier_points is not None:
            written_card = write_two_tier(options.weights, two_tier_points, options.classifier)
    eval_json = write_eval_report(report, out_dir / EVAL_FILENAME)
    report_path = None
    if options.report:
        from bonefrac.evaluate.report import write_report

        report_path = write_report(report, prepared, out_dir / "report.html")
    logger.info("evaluation written to %s", out_dir)
    return EvalOutcome(out_dir, eval_json, report_path, written_card, report, rule, warning)


def _card_has_tiers(rule: str, card_path: Path) -> bool:
    return rule == "card" and card_path.is_file() and read_model_card(card_path).operating_points is not None


def _two_tier(
    options: EvaluateOptions,
    rule: str,
    prepared: PreparedEvaluation,
    conf_floor: float,
    out_dir: Path,
    card_path: Path,
) -> tuple[OperatingPoints, TwoTierMetrics]:
    """Both tiers: chosen on this split, or the card's (rule card); measured here, with the classifier."""
    card = read_model_card(card_path) if card_path.is_file() else None
    classifier_path = options.classifier
    card_points: OperatingPoints | None = None
    if rule == "card":
        if card is None or card.operating_points is None:
            raise EvaluationError(
                f"--two-tier with the card's operating point (--rule {options.rule}) needs two operating "
                f"points in {card_path}; choose them on the val split first "
                "(--split val --two-tier --write-card --classifier ...)"
            )
        card_points = card.operating_points
        classifier_path = classifier_path or card_classifier_path(card, options.weights)
    paths = [p.path for p in prepared.predictions]
    probabilities = (
        classifier_probabilities(classifier_path, paths, out_dir, options.engine)
        if classifier_path is not None
        else None
    )
    if card_points is not None:
        points = card_points
    else:
        points = choose_operating_points(
            prepared.scores,
            probabilities,
            prepared.positive,
            split=options.split,
            conf_floor=conf_floor,
            target_sensitivity=options.target_sensitivity,
            target_specificity=options.target_specificity,
        )
    described = None
    if classifier_path is not None:
        from bonefrac.hashing import file_sha256

        described = {"file": str(classifier_path), "sha256": file_sha256(classifier_path)}
    measured = measure_two_tier(prepared, probabilities, points, options.bootstrap, options.seed, described)
    return points, measured


def _check_reused(predictions: PredictionSet, options: EvaluateOptions, class_names: tuple[str, ...]) -> None:
    if predictions.split != options.split or tuple(predictions.class_names) != tuple(class_names):
        raise EvaluationError(
            f"{options.predictions} holds split {predictions.split!r} "
            f"with classes {predictions.class_names}; "
            f"this evaluation is of split {options.split!r} with classes {class_names}"
        )
    if predictions.kind == "onnx" and predictions.engine != options.engine:
        raise EvaluationError(
            f"{options.predictions} was predicted by the {predictions.engine} engine; this evaluation "
            f"asks for {options.engine} (drop --predictions to predict again, or pass --engine "
            f"{predictions.engine})"
        )


def card_summary(report: EvalReport) -> dict[str, Any]:
    """The few numbers a model card carries about the evaluation that chose its operating point."""
    return {
        "split": report.data.split,
        "map50": report.box.map50.value,
        "map50_95": report.box.map50_95.value,
        "map50_fractured_only": report.box_fractured_only.map50.value,
        "auroc": report.image.auroc.value,
        "sensitivity": report.image.sensitivity.value,
        "specificity": report.image.specificity.value,
        "froc_score": report.froc.score.value,
        "images": report.counts.images,
        "dataset_fingerprint": report.data.fingerprint,
    }


def _provenance(
    options: EvaluateOptions, predictions: PredictionSet, fingerprint: str, kind: WeightKind
) -> dict[str, Any]:
    return {
        "model": ModelInfo(
            weights=str(Path(options.weights).resolve()),
            kind=kind,
            sha256=file_sha256(options.weights),
            imgsz=predictions.imgsz,
            engine=predictions.engine,
            class_names=list(predictions.class_names),
        ),
        "data": DataInfo(
            yaml=str(Path(options.data).resolve()),
            split=options.split,
            fingerprint=fingerprint,
            conf_floor=predictions.conf_floor,
            skipped_images=list(predictions.skipped),
        ),
    }
