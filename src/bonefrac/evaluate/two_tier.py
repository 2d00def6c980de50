"""Fusion and the two operating points: choose them on one split (val), measure them on any (test).

The image score is the detector's highest box confidence, or, with a classifier,
`w * classifier probability + (1 - w) * detector score`, w chosen on the choosing split for the highest AUROC.
The high-sensitivity tier is the highest image threshold whose sensitivity reaches the target (0.90); the
high-specificity tier the lowest whose specificity does. Each tier's box threshold is chosen the same way on
the detector's own score, so a dashed (solid) box is one the detector alone needs to reach that tier's target.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from bonefrac.card.record import (
    ClassifierRef,
    ModelCard,
    OperatingPoints,
    Tier,
    card_path_for,
    read_model_card,
    write_model_card,
)
from bonefrac.errors import EvaluationError
from bonefrac.evaluate import metrics as m
from bonefrac.evaluate.bootstrap import bootstrap_intervals
from bonefrac.evaluate.evaluator import PreparedEvaluation
from bonefrac.evaluate.operating_point import threshold_for_sensitivity
from bonefrac.evaluate.record import ImageConfusion, ImageScoreAuroc, Metric, TierMetrics, TwoTierMetrics

logger = logging.getLogger(__name__)

WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)
SCORES_FILENAME = "classifier_scores.json"


def threshold_for_specificity(scores: np.ndarray, positive: np.ndarray, target: float) -> tuple[float, bool]:
    """The lowest threshold whose image-level specificity is >= target (so sensitivity is as high as it can
    be); (just above the highest normal score, False) when only calling nothing reaches it."""
    if not 0.0 < target <= 1.0:
        raise EvaluationError(f"target specificity must be in (0, 1], got {target}")
    negative_scores = np.sort(np.asarray(scores, dtype=np.float64)[~np.asarray(positive, bool)])
    if negative_scores.size == 0:
        raise EvaluationError("the split has no normal image (without boxes); specificity is undefined")
    allowed_fp = math.floor((1.0 - target) * negative_scores.size + 1e-9)
    # calling score >= t: the normals above t are false positives; t just above the (n - allowed)-th lowest
    boundary = float(negative_scores[negative_scores.size - allowed_fp - 1])
    threshold = float(np.nextafter(boundary, np.inf))
    return min(threshold, 1.0), threshold <= 1.0


def choose_classifier_weight(
    detector: np.ndarray, classifier: np.ndarray, positive: np.ndarray
) -> tuple[float, dict[float, float]]:
    """The fusion weight (grid 0, 0.05, .., 1) with the highest AUROC; ties go to the smaller weight."""
    ones = np.ones((1, len(positive)))
    by_weight = {
        float(w): float(m.auroc(w * classifier + (1 - w) * detector, positive, ones)[0]) for w in WEIGHT_GRID
    }
    best = max(by_weight, key=lambda w: (by_weight[w], -w))
    return best, by_weight


def fused(detector: np.ndarray, classifier: np.ndarray | None, weight: float) -> np.ndarray:
    if classifier is None:
        return np.asarray(detector, dtype=np.float64)
    return weight * np.asarray(classifier) + (1.0 - weight) * np.asarray(detector)


def choose_operating_points(
    detector: np.ndarray,
    classifier: np.ndarray | None,
    positive: np.ndarray,
    *,
    split: str,
    conf_floor: float,
    target_sensitivity: float = 0.9,
    target_specificity: float = 0.9,
) -> OperatingPoints:
    """Both tiers and the fusion weight, chosen on one split's scores."""
    positive = np.asarray(positive, bool)
    ones = np.ones((1, len(positive)))
    auroc: dict[str, float | None] = {"detector": float(m.auroc(detector, positive, ones)[0])}
    weight = 0.0
    if classifier is not None:
        weight, _ = choose_classifier_weight(detector, classifier, positive)
        auroc["classifier"] = float(m.auroc(classifier, positive, ones)[0])
        auroc["fused"] = float(m.auroc(fused(detector, classifier, weight), positive, ones)[0])
    score = fused(detector, classifier, weight)
    image_sens, sens_reached = threshold_for_sensitivity(score, positive, target_sensitivity, 0.0)
    image_spec, spec_reached = threshold_for_specificity(score, positive, target_specificity)
    box_sens, _ = threshold_for_sensitivity(detector, positive, target_sensitivity, conf_floor)
    box_spec, _ = threshold_for_specificity(detector, positive, target_specificity)
    box_spec = max(box_spec, conf_floor)
    # A score good enough to meet both targets at once gives the high-sensitivity threshold above the
    # high-specificity one; any threshold between them meets both, so the lower one is the sensitive tier.
    image_sens, image_spec = min(image_sens, image_spec), max(image_sens, image_spec)
    box_sens, box_spec = min(box_sens, box_spec), max(box_sens, box_spec)
    tiers = {}
    for name, image_t, box_t, reached, label in (
        ("high_sensitivity", image_sens, box_sens, sens_reached, f"sensitivity>={target_sensitivity:g}"),
        ("high_specificity", image_spec, box_spec, spec_reached, f"specificity>={target_specificity:g}"),
    ):
        sens, spec = m.sensitivity_specificity(score, positive, ones, image_t)
        tiers[name] = Tier(
            image_threshold=float(image_t),
            box_threshold=float(min(box_t, 1.0)),
            target=label,
            reached=bool(reached),
            sensitivity=_finite(sens[0]),
            specificity=_finite(spec[0]),
        )
        if not reached:
            logger.warning("%s: target %s not reached on %s", name, label, split)
    return OperatingPoints(
        image_score="fused" if classifier is not None else "detector",
        classifier_weight=weight,
        split=split,
        high_sensitivity=tiers["high_sensitivity"],
        high_specificity=tiers["high_specificity"],
        auroc=auroc,
    )


def measure_two_tier(
    prepared: PreparedEvaluation,
    classifier: np.ndarray | None,
    points: OperatingPoints,
    resamples: int,
    seed: int,
    classifier_file: dict[str, str] | None = None,
) -> TwoTierMetrics:
    """AUROC of each score and both tiers' image and box metrics on this split, with 95 % intervals."""
    if points.image_score == "fused" and classifier is None:
        raise EvaluationError("these operating points fuse a classifier's probability: give --classifier")
    detector, positive = prepared.scores, prepared.positive
    score = fused(detector, classifier, points.classifier_weight)
    iou = prepared.settings.iou
    tiers = {"high_sensitivity": points.high_sensitivity, "high_specificity": points.high_specificity}

    def compute(w: np.ndarray) -> dict[str, np.ndarray]:
        out = {"auroc.detector": m.auroc(detector, positive, w)}
        if classifier is not None:
            out["auroc.classifier"] = m.auroc(classifier, positive, w)
            out["auroc.fused"] = m.auroc(score, positive, w)
        for name, tier in tiers.items():
            sens, spec = m.sensitivity_specificity(score, positive, w, tier.image_threshold)
            precision, recall, _ = m.box_precision_recall_f1(prepared.pooled, w, tier.box_threshold, iou)
            out.update(
                {
                    f"{name}.sensitivity": sens,
                    f"{name}.specificity": spec,
                    f"{name}.box_precision": precision,
                    f"{name}.box_recall": recall,
                }
            )
        return out

    point = compute(np.ones((1, prepared.n_images)))
    intervals = bootstrap_intervals(compute, prepared.n_images, resamples, seed) if resamples else {}

    def metric(key: str) -> Metric:
        return Metric(value=float(point[key][0]), ci95=intervals.get(key))

    measured = {}
    for name, tier in tiers.items():
        called = score >= tier.image_threshold
        measured[name] = TierMetrics(
            image_threshold=tier.image_threshold,
            box_threshold=tier.box_threshold,
            target=tier.target,
            reached=tier.reached,
            sensitivity=metric(f"{name}.sensitivity"),
            specificity=metric(f"{name}.specificity"),
            confusion=ImageConfusion(
                tp=int((called & positive).sum()),
                fn=int((~called & positive).sum()),
                fp=int((called & ~positive).sum()),
                tn=int((~called & ~positive).sum()),
            ),
            box_precision=metric(f"{name}.box_precision"),
            box_recall=metric(f"{name}.box_recall"),
        )
    has_classifier = classifier is not None
    return TwoTierMetrics(
        image_score=points.image_score,
        classifier_weight=points.classifier_weight,
        chosen_on=points.split,
        auroc=ImageScoreAuroc(
            detector=metric("auroc.detector"),
            classifier=metric("auroc.classifier") if has_classifier else None,
            fused=metric("auroc.fused") if has_classifier else None,
            classifier_weight=points.classifier_weight if has_classifier else None,
        ),
        high_sensitivity=measured["high_sensitivity"],
        high_specificity=measured["high_specificity"],
        classifier=classifier_file,
    )


def classifier_probabilities(
    classifier_path: Path, images: list[Path], out_dir: Path, engine_name: str = "onnxruntime"
) -> np.ndarray:
    """The classifier's probability for each image (ONNX engine `engine_name`, no torch); saved as
    classifier_scores.json and reused when the same classifier file on the same engine already scored the
    same images there."""
    from bonefrac.imaging.io import load_image
    from bonefrac.infer.classifier import FractureClassifier

    engine = FractureClassifier(classifier_path, engine=engine_name)
    saved = Path(out_dir) / SCORES_FILENAME
    names = [str(p) for p in images]
    if saved.is_file():
        data = json.loads(saved.read_text(encoding="utf-8"))
        same_engine = data.get("engine", "onnxruntime") == engine_name
        if data.get("sha256") == engine.sha256 and data.get("images") == names and same_engine:
            return np.asarray(data["probabilities"], dtype=np.float64)
    # Truncated JPEGs decode as the detector's evaluation decodes them (missing rows grey), so both scores
    # cover one image set; `bonefrac data check` reports such files.
    probabilities = np.array(
        [engine.probability(load_image(p, allow_truncated=True)) for p in images], dtype=np.float64
    )
    saved.write_text(
        json.dumps(
            {
                "classifier": str(classifier_path),
                "sha256": engine.sha256,
                "engine": engine_name,
                "images": names,
                "probabilities": probabilities.round(6).tolist(),
            }
        )
        + "\n",
        encoding="utf-8",
    )
    return probabilities


def card_classifier_path(card: ModelCard, weights: Path) -> Path | None:
    """The classifier file the card beside `weights` names (checked by sha256), or None."""
    if card.classifier is None:
        return None
    from bonefrac.hashing import file_sha256

    path = Path(weights).parent / card.classifier.file
    if not path.is_file():
        raise EvaluationError(f"the model card names the classifier {path}, which does not exist")
    if file_sha256(path) != card.classifier.sha256:
        raise EvaluationError(f"{path} is not the classifier the model card names (sha256 differs)")
    return path


def write_two_tier(weights: Path, points: OperatingPoints, classifier_path: Path | None) -> Path:
    """Set both tiers (and the classifier they fuse) in the model card beside `weights`."""
    from bonefrac.card.classifier import classifier_card_path, read_classifier_card
    from bonefrac.hashing import file_sha256

    card_path = card_path_for(weights)
    card = read_model_card(card_path)
    reference = None
    if classifier_path is not None:
        classifier_path = Path(classifier_path)
        if classifier_path.resolve().parent != Path(weights).resolve().parent:
            raise EvaluationError(
                f"the classifier {classifier_path} must sit beside {weights} (the card names it by file "
                "name); copy classifier.onnx and classifier_card.json into that folder"
            )
        classifier_card = read_classifier_card(classifier_card_path(classifier_path))
        reference = ClassifierRef(
            file=classifier_path.name,
            sha256=file_sha256(classifier_path),
            version=classifier_card.version,
            input_size=classifier_card.input_size,
        )
    updated = card.model_copy(update={"operating_points": points, "classifier": reference})
    return write_model_card(ModelCard.model_validate(updated.model_dump()), card_path)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
