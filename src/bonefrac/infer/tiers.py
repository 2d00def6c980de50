"""Two-tier output: the image score, the image's call and each box's tier, from the card's operating points.

    score = image_score(points, detector_top=0.31, classifier_probability=0.82)
    call = image_call(points, score)                    # "high_specificity", "high_sensitivity" or "negative"
    tiers = box_tiers(points, confidences, call)        # per box: a tier name, or None (not drawn)

A box is drawn at a tier when its confidence reaches that tier's box threshold *and* the image is called at
that tier or a stricter one: a normal call draws no box, a high-sensitivity call draws dashed boxes only.
A card without two tiers (an older model) gets both tiers at its single operating threshold, on the
detector's score: every box at or above it is then solid, as before (a lower `min_confidence` adds dashed
boxes below it). Pure numpy; no torch, no onnxruntime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from bonefrac.card.record import ModelCard, OperatingPoints, Tier

ImageCall = Literal["high_specificity", "high_sensitivity", "negative"]
BoxTier = Literal["high_specificity", "high_sensitivity"]
CALLS: tuple[ImageCall, ...] = ("high_specificity", "high_sensitivity", "negative")


def points_for(card: ModelCard) -> OperatingPoints:
    """The card's two tiers, or both at its single operating threshold when it has none."""
    if card.operating_points is not None:
        return card.operating_points
    point = card.operating_point
    tier = Tier(
        image_threshold=point.threshold,
        box_threshold=point.threshold,
        target=point.rule,
        sensitivity=point.sensitivity,
        specificity=point.specificity,
    )
    return OperatingPoints(
        image_score="detector",
        classifier_weight=0.0,
        split=point.split,
        high_sensitivity=tier,
        high_specificity=tier,
    )


def image_score(points: OperatingPoints, detector_top: float, classifier_probability: float | None) -> float:
    """The image-level score the tiers' image thresholds apply to."""
    if points.image_score == "detector":
        return float(detector_top)
    if classifier_probability is None:
        raise ValueError(
            "these operating points fuse the classifier's probability with the detector's score, "
            "but no classifier probability was given (is classifier.onnx beside the model?)"
        )
    w = points.classifier_weight
    return float(w * classifier_probability + (1.0 - w) * detector_top)


def image_call(points: OperatingPoints, score: float) -> ImageCall:
    """The strictest tier whose image threshold the score reaches, else "negative"."""
    if score >= points.high_specificity.image_threshold:
        return "high_specificity"
    if score >= points.high_sensitivity.image_threshold:
        return "high_sensitivity"
    return "negative"


def box_tiers(
    points: OperatingPoints,
    confidences: np.ndarray,
    call: ImageCall,
    min_confidence: float | None = None,
) -> list[BoxTier | None]:
    """Each box's tier (None: not drawn). `min_confidence` (a user's slider, a request's threshold) replaces
    the high-sensitivity box threshold and lets boxes show on any image; the solid tier keeps its own
    threshold, and no box below `min_confidence` is drawn."""
    spec_box = points.high_specificity.box_threshold
    sens_box = points.high_sensitivity.box_threshold if min_confidence is None else float(min_confidence)
    if min_confidence is not None:
        spec_box = max(spec_box, float(min_confidence))
    tiers: list[BoxTier | None] = []
    for confidence in np.asarray(confidences, dtype=np.float64).reshape(-1):
        if (call == "high_specificity" or min_confidence is not None) and confidence >= spec_box:
            tiers.append("high_specificity")
        elif (call != "negative" or min_confidence is not None) and confidence >= sens_box:
            tiers.append("high_sensitivity")
        else:
            tiers.append(None)
    return tiers


# How each tier is drawn (bonefrac.imaging.render): the strict tier solid, the sensitive tier dashed.
BOX_STYLES: dict[str, str] = {"high_specificity": "solid", "high_sensitivity": "dashed"}


def box_styles(tiers: Sequence[str]) -> list[str]:
    """The line style of each box of a finding, for `draw_detections(..., styles=...)`."""
    return [BOX_STYLES[tier] for tier in tiers]


def describe_points(points: OperatingPoints, tiered: bool) -> list[str]:
    """The operating points in words, one line each (the CLI, `make run`'s banner and the UI's sidebar)."""
    if points.image_score == "fused":
        w = points.classifier_weight
        score = f"image score = {w:.2f} x classifier probability + {1 - w:.2f} x the detector's top box"
    else:
        score = "image score = the detector's highest box confidence"
    if not tiered:
        single = points.high_specificity
        return [
            f"one operating point for both tiers: {single.box_threshold:.3f} ({single.target}); "
            "every box at or above it is solid",
            score,
        ]
    lines = []
    for name, tier, style in (
        ("high specificity", points.high_specificity, "solid"),
        ("high sensitivity", points.high_sensitivity, "dashed"),
    ):
        missed = "" if tier.reached else ", target not reached"
        lines.append(
            f"{name} ({style} boxes): image score >= {tier.image_threshold:.3f}, boxes >= "
            f"{tier.box_threshold:.3f} ({tier.target}{missed})"
        )
    return [*lines, score]
