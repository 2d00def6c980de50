"""What the UI shows for an analysis: the call, box table, annotated PNG, JSON download, model card facts.

Pure functions over `Analysis` and `ModelCard`, so the Streamlit script only lays them out.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from bonefrac.card.record import ModelCard
from bonefrac.demo.folder import MANIFEST_NAME, read_demo_manifest
from bonefrac.errors import BonefracError
from bonefrac.infer.tiers import BOX_STYLES, describe_points, points_for
from bonefrac.ui.client import Analysis
from bonefrac.ui.reference import MATCH_IOU, Reference, Verdict
from bonefrac.ui.thresholds import format_value

RESEARCH_NOTICE = (
    "Research use only. bonefrac is not a medical device: its boxes are not a diagnosis and must not be used "
    "for clinical decisions. A qualified reader must review every image."
)
STAND_IN_WARNING = (
    "This is a STAND-IN model trained on synthetic images only. Its boxes on real radiographs mean nothing; "
    "it is here so the service and UI can be tried before a real model is installed."
)
ACCEPTED_TYPES_TEXT = "JPEG, PNG or DICOM"
LEGEND = (
    "Solid boxes: high-specificity operating point. Dashed boxes: high-sensitivity operating point "
    "(or, after you lower the threshold, any box down to it)."
)
CALL_WORDS = {
    "high_specificity": "high specificity: the score reaches the high-specificity operating point",
    "high_sensitivity": "high sensitivity: the score reaches only the high-sensitivity operating point",
    "negative": "negative: the score reaches neither operating point",
}
TIER_WORDS = {"high_specificity": "high specificity (solid)", "high_sensitivity": "high sensitivity (dashed)"}


DEMO_SUFFIXES = (".jpg", ".jpeg", ".png", ".dcm")
DEMO_CAPTIONS = {
    "fracatlas": "Or try demo radiographs: FracAtlas test images, chosen by rule (FracAtlas: Abedeen et al., "
    "Sci Data 10, 521 (2023), CC BY 4.0)",
    "synthetic": "Or try demo radiographs: SYNTHETIC images from bonefrac's generator, not real patients "
    "(they show the page working, not how well the model reads real radiographs)",
}


def demo_images(folder: str | Path | None) -> list[Path]:
    """The radiographs in a demo folder (top level only, sorted); [] without a usable folder."""
    if not folder or not Path(folder).is_dir():
        return []
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in DEMO_SUFFIXES)


def demo_caption(folder: str | Path) -> str:
    """The demo list's label: which kind of images they are, from the folder's demo.json."""
    try:
        manifest = read_demo_manifest(folder)
    except BonefracError as exc:
        return f"Or try demo radiographs from {Path(folder).name} (source unknown: {exc})"
    if manifest is None:
        return f"Or try demo radiographs from {Path(folder).name} (source unknown: no {MANIFEST_NAME} there)"
    return DEMO_CAPTIONS[manifest.kind]


def _number(value: Any, digits: int = 1) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def box_rows(analysis: Analysis, verdict: Verdict | None = None) -> list[dict[str, str]]:
    """One table row of display text per box: class, confidence, tier, size in px and mm ("—" when
    unknown), and with a verdict whether the box matches a reference box."""
    rows = []
    items = analysis.response.get("detections", [])
    for index, (item, tier) in enumerate(zip(items, analysis.box_tiers, strict=True), start=1):
        x1, y1, x2, y2 = (float(v) for v in item["xyxy"])
        rows.append(
            {
                "box": str(index),
                "class": str(item.get("class_name", item.get("class_id", ""))),
                "confidence": _number(item["confidence"], 3),
                "tier": TIER_WORDS.get(tier, tier),
                "width (px)": _number(item.get("width_px", x2 - x1)),
                "height (px)": _number(item.get("height_px", y2 - y1)),
                "width (mm)": _number(item.get("width_mm")),
                "height (mm)": _number(item.get("height_mm")),
                "x1, y1, x2, y2": f"{x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}",
            }
        )
        if verdict is not None:
            rows[-1]["reference"] = "matches a fracture" if verdict.box_found[index - 1] else "false alarm"
    return rows


def summary_line(analysis: Analysis) -> str:
    """ "2 boxes at threshold 0.25 (640 x 480 px, 0.14 mm/px, 35 ms)"."""
    count = len(analysis.detections)
    image = analysis.response.get("image", {})
    spacing = image.get("pixel_spacing_mm")
    spacing_text = f", {float(spacing[1]):.3g} mm/px" if spacing else ", no pixel spacing (sizes in px only)"
    total_ms = analysis.response.get("timings", {}).get("total_ms")
    time_text = f", {float(total_ms):.0f} ms" if total_ms is not None else ""
    noun = "box" if count == 1 else "boxes"
    return (
        f"{count} {noun} at threshold {format_value(analysis.threshold)} "
        f"({analysis.radiograph.width} x {analysis.radiograph.height} px{spacing_text}{time_text})"
    )


def call_line(analysis: Analysis) -> str:
    """ "Call: high specificity: .... Fracture probability 0.830 (classifier); image score 0.712."."""
    image = analysis.response.get("image", {})
    call = str(image.get("call", "unknown"))
    probability = image.get("fracture_probability")
    probability_text = (
        "Fracture probability: no classifier with this model"
        if probability is None
        else f"Fracture probability {float(probability):.3f} (classifier)"
    )
    score = image.get("score")
    score_text = "" if score is None else f"; image score {float(score):.3f}"
    return f"Call: {CALL_WORDS.get(call, call)}. {probability_text}{score_text}."


def annotated_pixels(analysis: Analysis) -> np.ndarray:
    """The radiograph with its boxes (solid or dashed by tier) and "name 0.87" labels, (H, W, 3) uint8."""
    from bonefrac.imaging.render import draw_detections

    styles = [BOX_STYLES[tier] for tier in analysis.box_tiers]
    return draw_detections(analysis.radiograph, analysis.detections, styles=styles)


def annotated_png(analysis: Analysis) -> bytes:
    """`annotated_pixels` as PNG bytes."""
    from bonefrac.imaging.render import encode_png

    return encode_png(annotated_pixels(analysis))


REFERENCE_COLOUR = (46, 204, 64)  # green: the reference, beside the model's red
REFERENCE_WORDS = {True: "reference: found", False: "reference: missed"}


def reference_pixels(analysis: Analysis, reference: Reference, verdict: Verdict) -> np.ndarray:
    """The radiograph with the reference boxes, each labelled found or missed by the shown boxes."""
    from bonefrac.imaging.render import LabelledBox, draw_boxes

    boxes = []
    for xyxy, found in zip(reference.xyxy, verdict.reference_found, strict=True):
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        boxes.append(LabelledBox((x1, y1, x2, y2), REFERENCE_WORDS[found], REFERENCE_COLOUR))
    return draw_boxes(analysis.radiograph, boxes)


def reference_png(analysis: Analysis, reference: Reference, verdict: Verdict) -> bytes:
    """`reference_pixels` as PNG bytes."""
    from bonefrac.imaging.render import encode_png

    return encode_png(reference_pixels(analysis, reference, verdict))


def verdict_line(reference: Reference, verdict: Verdict) -> str:
    """ "Reference (labels/IMG1.txt beside the image, matched at IoU >= 0.5): found: 1 of 1 ..." text."""
    skipped = (
        f"; {reference.skipped_lines} unreadable label line{'s' if reference.skipped_lines != 1 else ''} "
        "skipped"
        if reference.skipped_lines
        else ""
    )
    return f"Reference ({reference.source}, matched at IoU >= {MATCH_IOU:g}{skipped}): {verdict.sentence()}."


def result_json(analysis: Analysis) -> bytes:
    """The detection answer (the public per-image schema) as indented UTF-8 JSON, with the file name."""
    document = {**analysis.response, "file_name": analysis.response.get("file_name") or analysis.name}
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def download_names(file_name: str) -> tuple[str, str]:
    """("<stem>_annotated.png", "<stem>_detections.json") for an uploaded file name."""
    stem = PurePath(file_name).stem or "radiograph"
    return f"{stem}_annotated.png", f"{stem}_detections.json"


def operating_point_lines(card: ModelCard) -> list[str]:
    """Both operating points in words, for the sidebar."""
    return describe_points(points_for(card), card.operating_points is not None)


def card_facts(card: ModelCard) -> list[tuple[str, str]]:
    """The model card as (field, value) text rows for a table."""
    point = card.operating_point
    point_text = f"{point.threshold:.3f} ({point.rule}" + (
        f", chosen on {point.split}" if point.split else ""
    )
    if point.sensitivity is not None:
        point_text += f", sensitivity {point.sensitivity:.3f}"
    if point.specificity is not None:
        point_text += f", specificity {point.specificity:.3f}"
    point_text += ")"
    facts = [
        ("name", card.name),
        ("version", card.version),
        ("classes", ", ".join(card.class_names)),
        ("input size", f"{card.input_size} px"),
        ("operating point", point_text),
        *(("operating points", line) for line in operating_point_lines(card)),
        (
            "classifier",
            "none"
            if card.classifier is None
            else f"{card.classifier.file} {card.classifier.version} (sha256 {card.classifier.sha256})",
        ),
        ("stand-in", "YES: synthetic training data, not for real radiographs" if card.stand_in else "no"),
        ("intended use", card.intended_use),
    ]
    facts += [(f"metric: {key}", _metric_text(value)) for key, value in sorted(card.metrics.items())]
    if card.data_credit:
        facts.append(("data credit", card.data_credit))
    facts += [("limitation", text) for text in card.limitations]
    if card.weights_sha256:
        facts.append(("weights sha256", card.weights_sha256))
    if card.quantization:
        facts.append(("quantization", json.dumps(card.quantization, sort_keys=True)))
    return facts


def _metric_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)
