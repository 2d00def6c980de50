"""The model card's two-operating-point section: how the image score is made, each score's AUROC, and both
tiers as chosen on val and as measured on test."""

from __future__ import annotations

from bonefrac.card.record import OperatingPoints
from bonefrac.card.text import fmt
from bonefrac.evaluate.record import EvalReport, Metric, TierMetrics


def _score_text(points: OperatingPoints) -> str:
    if points.image_score == "detector":
        return "The image score is the detector's highest box confidence (0 without boxes)"
    w = points.classifier_weight
    return (
        f"The image score is **{w:g} x the classifier's probability + {1 - w:g} x the detector's highest box "
        f"confidence** (the weight chosen on {points.split} for the highest AUROC, from 0, 0.05, .., 1)"
    )


def _auroc_rows(test: EvalReport, val: EvalReport | None) -> list[str]:
    two, two_val = test.two_tier, val.two_tier if val is not None else None
    if two is None:
        return []
    rows = [
        ("Detector alone (highest box confidence)", two.auroc.detector, two_val and two_val.auroc.detector),
        (
            "Classifier alone (fracture probability)",
            two.auroc.classifier,
            two_val and two_val.auroc.classifier,
        ),
        ("Fused image score", two.auroc.fused, two_val and two_val.auroc.fused),
    ]
    lines = ["| Image score: AUROC (95 % interval) | val | test |", "|---|---|---|"]
    for label, on_test, on_val in rows:
        if on_test is None:
            continue
        lines.append(f"| {label} | {fmt(on_val) if isinstance(on_val, Metric) else 'n/a'} | {fmt(on_test)} |")
    return lines


def _tier_row(label: str, tier: TierMetrics, chosen: TierMetrics | None) -> str:
    val_text = f"{fmt(chosen.sensitivity, 3)} / {fmt(chosen.specificity, 3)}" if chosen is not None else "n/a"
    return (
        f"| {label} ({tier.target}{'' if tier.reached else ', not reached'}) | {tier.image_threshold:.4f} | "
        f"{tier.box_threshold:.4f} | {val_text} | {fmt(tier.sensitivity)} | {fmt(tier.specificity)} | "
        f"{fmt(tier.box_recall)} | {fmt(tier.box_precision)} |"
    )


def two_tier_lines(points: OperatingPoints, test: EvalReport, val: EvalReport | None) -> list[str]:
    """Markdown lines: the section on both operating points."""
    two = test.two_tier
    if two is None:
        return []
    chosen = val.two_tier if val is not None else None
    return [
        "",
        "## Two operating points",
        f"Like fracture-reading products radiologists use, the model answers at two operating points, both "
        f"chosen on the de-duplicated {points.split} split: **high sensitivity** (the highest threshold "
        "whose image sensitivity is at least 0.90) and **high specificity** (the lowest whose specificity is "
        f"at least 0.90). {_score_text(points)}. Each image is called at the strictest point its "
        "score reaches, or normal. Boxes have a tier of their own: a box is drawn **solid** when its "
        "confidence reaches the detector's high-specificity box threshold and the image is called at high "
        "specificity, **dashed** when it reaches the high-sensitivity box threshold and the image is called "
        "at either point. A normal call draws no box.",
        "",
        *_auroc_rows(test, val),
        "",
        "| Operating point | image threshold | box threshold | val sensitivity / specificity | test "
        "sensitivity | test specificity | test box recall | test box precision |",
        "|---|---|---|---|---|---|---|---|",
        _tier_row("High sensitivity", two.high_sensitivity, chosen.high_sensitivity if chosen else None),
        _tier_row("High specificity", two.high_specificity, chosen.high_specificity if chosen else None),
        "",
        f"Test: {two.high_sensitivity.confusion.tp} of "
        f"{two.high_sensitivity.confusion.tp + two.high_sensitivity.confusion.fn} fractured images called at "
        f"high sensitivity, with {two.high_sensitivity.confusion.fp} of "
        f"{two.high_sensitivity.confusion.fp + two.high_sensitivity.confusion.tn} normal images flagged; at "
        f"high specificity {two.high_specificity.confusion.tp} and {two.high_specificity.confusion.fp}. Box "
        "recall and precision count every box at the tier's box threshold (IoU >= 0.5), on every image.",
    ]
