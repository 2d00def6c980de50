"""`bonefrac model-card`: fold the test evaluation into model_card.json and write MODEL_CARD.md beside it.

The evidence is model_card.json (what export and evaluate wrote), the test-split eval.json evaluated at the
card's operating point, optionally the val eval.json that chose that point, an int8 and a source-.pt test
eval.json and the training run folder. Every number in the card comes from those files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bonefrac.card.classifier import ClassifierCard, classifier_card_path, read_classifier_card
from bonefrac.card.limitations import derive_limitations
from bonefrac.card.markdown import FRACATLAS_CREDIT, render_model_card
from bonefrac.card.record import (
    CARD_FILENAME,
    INT8_FILENAME,
    MARKDOWN_FILENAME,
    ModelCard,
    read_model_card,
    write_model_card,
)
from bonefrac.card.references import ReferenceResult
from bonefrac.card.training import read_classifier_training, read_training_summary
from bonefrac.errors import ModelError
from bonefrac.evaluate.eval_file import read_eval_report
from bonefrac.evaluate.record import EvalReport, Metric, Record, TwoTierMetrics


class FracturedOnlySummary(Record):
    """Box metrics on the test images with a fracture only (the FracAtlas paper's protocol)."""

    images: int
    map50: Metric
    map50_95: Metric
    precision: Metric
    recall: Metric


class CardEvalSummary(Record):
    """The test numbers model_card.json carries (`metrics.test`, `metrics.test_int8`), keyed as eval.json."""

    split: str
    threshold: float
    images: int
    positive_images: int
    dataset_fingerprint: str
    map50: Metric
    map50_95: Metric
    precision: Metric
    recall: Metric
    auroc: Metric
    sensitivity: Metric
    specificity: Metric
    froc_score: Metric
    fractured_only: FracturedOnlySummary
    two_tier: TwoTierMetrics | None = None


def card_test_summary(report: EvalReport) -> CardEvalSummary:
    fractured = report.box_fractured_only
    return CardEvalSummary(
        split=report.data.split,
        threshold=report.operating_point.threshold,
        images=report.counts.images,
        positive_images=report.counts.positive_images,
        dataset_fingerprint=report.data.fingerprint,
        map50=report.box.map50,
        map50_95=report.box.map50_95,
        precision=report.box.precision,
        recall=report.box.recall,
        auroc=report.image.auroc,
        sensitivity=report.image.sensitivity,
        specificity=report.image.specificity,
        froc_score=report.froc.score,
        fractured_only=FracturedOnlySummary(
            images=fractured.images,
            map50=fractured.map50,
            map50_95=fractured.map50_95,
            precision=fractured.precision,
            recall=fractured.recall,
        ),
        two_tier=report.two_tier,
    )


@dataclass(frozen=True)
class PublishedCard:
    card_path: Path
    markdown_path: Path
    card: ModelCard


def _check_same_model(report: EvalReport, sha256: str | None, what: str, path: Path) -> None:
    evaluated = report.model.sha256
    if sha256 is None or evaluated != sha256:
        raise ModelError(
            f"{path} evaluated a model with sha256 {evaluated[:12]}..., but {what} has "
            f"{str(sha256)[:12]}...; evaluate the shipped file again"
        )


def _check_same_tiers(card: ModelCard, test: EvalReport, path: Path) -> None:
    """A card with two operating points needs a test evaluation at exactly those points."""
    points, measured = card.operating_points, test.two_tier
    if points is None:
        return
    if measured is None or (
        measured.high_sensitivity.image_threshold != points.high_sensitivity.image_threshold
        or measured.high_specificity.image_threshold != points.high_specificity.image_threshold
        or measured.classifier_weight != points.classifier_weight
    ):
        raise ModelError(
            f"{path} was not evaluated at the card's two operating points; evaluate the test split with "
            "--rule card (the card's classifier and tiers are then used)"
        )
    if card.classifier is not None and (measured.classifier or {}).get("sha256") != card.classifier.sha256:
        raise ModelError(f"{path} fused another classifier than the card's {card.classifier.file}")


def _card_classifier(card: ModelCard, model_dir: Path) -> ClassifierCard | None:
    if card.classifier is None:
        return None
    classifier = read_classifier_card(classifier_card_path(model_dir / card.classifier.file))
    if classifier.weights_sha256 != card.classifier.sha256:
        raise ModelError(
            f"{model_dir / card.classifier.file}'s card describes sha256 "
            f"{str(classifier.weights_sha256)[:12]}, the model card names {card.classifier.sha256[:12]}"
        )
    return classifier


def int8_keeps_accuracy(test: EvalReport, int8: EvalReport, max_drop: float) -> tuple[bool, str]:
    """Whether int8 keeps its accuracy: box mAP50 and image AUROC each at most `max_drop` below fp32's on
    the same split; with the sentence that says so."""
    fp32_map, int8_map = test.box.map50.value or 0.0, int8.box.map50.value or 0.0
    fp32_auroc, int8_auroc = test.image.auroc.value or 0.0, int8.image.auroc.value or 0.0
    kept = fp32_map - int8_map <= max_drop and fp32_auroc - int8_auroc <= max_drop
    split = test.data.split
    return kept, (
        f"{split} mAP50 {int8_map:.3f} against {fp32_map:.3f} for fp32, image AUROC {int8_auroc:.3f} against "
        f"{fp32_auroc:.3f} (allowed drop {max_drop:.3f} on each)"
    )


def _int8_decision(
    card: ModelCard, model_dir: Path, test: EvalReport, int8: EvalReport, max_map50_drop: float
) -> dict:
    """The card's quantization entry with the shipping decision; removes an int8 file that lost accuracy."""
    kept, decision = int8_keeps_accuracy(test, int8, max_map50_drop)
    quantization = {**(card.quantization or {}), "shipped": kept, "decision": decision}
    int8_file = model_dir / str(quantization.get("file") or INT8_FILENAME)
    if not kept and int8_file.exists():
        int8_file.unlink()
    return quantization


def publish_model_card(
    model_dir: Path,
    test_eval: Path,
    *,
    val_eval: Path | None = None,
    int8_test_eval: Path | None = None,
    run_dir: Path | None = None,
    classifier_run: Path | None = None,
    name: str | None = None,
    version: str | None = None,
    references: Sequence[ReferenceResult] = (),
    pt_test_eval: Path | None = None,
    int8_max_map50_drop: float = 0.01,
) -> PublishedCard:
    """Fold the test results into model_card.json (name, version, credit, limits) and write MODEL_CARD.md.

    The eval files must describe the files in model_dir (same sha256) and the test run must have used the
    card's operating point (`bonefrac evaluate --rule card`). An int8 model whose test mAP50 falls more than
    `int8_max_map50_drop` below the fp32 model's is removed from model_dir; the card says why.
    """
    model_dir = Path(model_dir)
    card_path = model_dir / CARD_FILENAME
    card = read_model_card(card_path)
    test = read_eval_report(test_eval)
    _check_same_model(test, card.weights_sha256, f"{card_path} (model.onnx)", Path(test_eval))
    used = test.operating_point.threshold
    if abs(used - card.operating_point.threshold) > 1e-9:
        raise ModelError(
            f"{test_eval} used threshold {used:.6f}, the card's operating point is "
            f"{card.operating_point.threshold:.6f}; evaluate the test split with --rule card"
        )
    _check_same_tiers(card, test, Path(test_eval))
    classifier = _card_classifier(card, model_dir)
    classifier_training = read_classifier_training(classifier_run) if classifier_run is not None else None
    val = read_eval_report(val_eval) if val_eval is not None else None
    int8 = None
    if int8_test_eval is not None:
        int8 = read_eval_report(int8_test_eval)
        _check_same_model(
            int8, (card.quantization or {}).get("sha256"), f"{card_path} (int8)", Path(int8_test_eval)
        )
    pt_test = None
    if pt_test_eval is not None:
        pt_test = read_eval_report(pt_test_eval)
        _check_same_model(
            pt_test, card.source_weights_sha256, f"{card_path} (source .pt)", Path(pt_test_eval)
        )
    training = read_training_summary(run_dir) if run_dir is not None else None
    metrics = dict(card.metrics)
    metrics["test"] = card_test_summary(test).model_dump(mode="json")
    quantization = card.quantization
    if int8 is not None and quantization is not None:
        metrics["test_int8"] = card_test_summary(int8).model_dump(mode="json")
        quantization = _int8_decision(card, model_dir, test, int8, int8_max_map50_drop)
    card = card.model_copy(
        update={
            "quantization": quantization,
            "name": name or card.name,
            "version": version or card.version,
            "data_credit": card.data_credit or FRACATLAS_CREDIT,
            "metrics": metrics,
            "limitations": derive_limitations(test, training),
        }
    )
    card = ModelCard.model_validate(card.model_dump())
    write_model_card(card, card_path)
    markdown = render_model_card(
        card,
        test,
        val=val,
        int8_test=int8,
        training=training,
        references=references,
        pt_test=pt_test,
        classifier=classifier,
        classifier_training=classifier_training,
    )
    markdown_path = model_dir / MARKDOWN_FILENAME
    markdown_path.write_text(markdown, encoding="utf-8")
    return PublishedCard(card_path, markdown_path, card)
