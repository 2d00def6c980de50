"""A self-contained HTML report of one evaluation: tables with intervals, plots and galleries (PNG inline)."""

from __future__ import annotations

import base64
import html
import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bonefrac.evaluate import plots
from bonefrac.evaluate.evaluator import PreparedEvaluation
from bonefrac.evaluate.matching import match_image
from bonefrac.evaluate.record import EvalReport, Metric

logger = logging.getLogger(__name__)

GALLERY_SIZE = 8
THUMBNAIL_SIDE = 360
TRUTH_COLOUR = (40, 220, 90)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}small{white-space:nowrap}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}.plots img{width:48%;margin:1%}
.gallery figure{display:inline-block;margin:6px;width:360px;vertical-align:top}.gallery img{width:100%}
figcaption{font-size:12px}.note{color:#555;font-size:13px}
"""


def _fmt(metric: Metric) -> str:
    value, ci = metric.value, metric.ci95
    if value is None:
        return "n/a"
    return f"{value:.3f}" + (f" <small>[{ci[0]:.2f}, {ci[1]:.2f}]</small>" if ci else "")


def _img_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _load_rgb(path: Path) -> np.ndarray:
    try:
        from bonefrac.imaging.io import load_image

        return load_image(path).pixels
    except ImportError:  # the imaging stage is part of the package; this keeps report usable without it
        return np.asarray(Image.open(path).convert("RGB"))


def _draw_case(prepared: PreparedEvaluation, index: int, threshold: float, highlight: int | None) -> bytes:
    """The image with ground truth (green), detections >= threshold (labelled), one highlighted."""
    from bonefrac.imaging.render import draw_detections

    prediction, truth = prepared.predictions[index], prepared.truths[index]
    pixels = draw_detections(_load_rgb(prediction.path), prediction.detections, threshold=threshold)
    canvas = Image.fromarray(pixels)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(min(canvas.size) / 150))
    for box in truth.xyxy:
        draw.rectangle(tuple(float(v) for v in box), outline=TRUTH_COLOUR, width=width)
    if highlight is not None:
        box = prediction.detections.xyxy[highlight]
        pad = 3 * width
        draw.rectangle(
            (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), outline=(255, 255, 0), width=width
        )
    canvas.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def missed_boxes(prepared: PreparedEvaluation, index: int, threshold: float) -> int:
    """Ground-truth boxes of one image not found at the threshold (IoU >= settings.iou, same class)."""
    prediction, truth = prepared.predictions[index], prepared.truths[index]
    detections = prediction.detections.above(threshold)
    missed = 0
    for cls in np.unique(truth.class_id):
        keep = detections.class_id == cls
        order = np.argsort(-detections.confidence[keep], kind="mergesort")
        gt = truth.xyxy[truth.class_id == cls]
        _, _, matched = match_image(
            detections.xyxy[keep][order],
            gt,
            np.zeros(len(gt), bool),
            np.zeros(len(order), bool),
            np.array([prepared.settings.iou]),
        )
        missed += int(len(gt) - matched[0].sum())
    return missed


def gallery_cases(prepared: PreparedEvaluation, threshold: float) -> tuple[list[tuple], list[tuple]]:
    """(worst misses, most confident false alarms) as (image index, detection index or None, caption)."""
    misses = []
    for i in np.flatnonzero(prepared.positive):
        n_missed = missed_boxes(prepared, int(i), threshold)
        if n_missed:
            misses.append((float(prepared.scores[i]), int(i), n_missed))
    misses.sort()
    worst = [
        (
            i,
            None,
            f"{prepared.predictions[i].path.name}: {n} of {len(prepared.truths[i].xyxy)} fracture box(es) "
            f"missed; highest confidence on the image {score:.3f}",
        )
        for score, i, n in misses[:GALLERY_SIZE]
    ]
    table = prepared.pooled
    false_alarm = (table.score >= threshold) & ~table.tp[0] & ~table.ignored[0]
    alarms, seen = [], set()
    for position in np.flatnonzero(false_alarm):  # already in descending score order
        image = int(table.image_index[position])
        if image in seen:
            continue
        seen.add(image)
        detections = prepared.predictions[image].detections
        match = np.flatnonzero(np.isclose(detections.confidence, table.score[position]))
        kind = "background image" if not prepared.positive[image] else "away from the fracture"
        alarms.append(
            (
                image,
                int(match[0]) if match.size else None,
                f"{prepared.predictions[image].path.name}: false alarm {table.score[position]:.3f} ({kind})",
            )
        )
        if len(alarms) == GALLERY_SIZE:
            break
    return worst, alarms


def _gallery(prepared: PreparedEvaluation, cases: list[tuple], threshold: float) -> str:
    if not cases:
        return '<p class="note">None at this threshold.</p>'
    figures = []
    for index, highlight, caption in cases:
        try:
            png = _draw_case(prepared, index, threshold, highlight)
        except Exception as exc:  # one unreadable image must not lose the report
            logger.warning("gallery: cannot draw %s: %s", prepared.predictions[index].path, exc)
            continue
        figures.append(
            f"<figure>{_img_tag(png, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    return f'<div class="gallery">{"".join(figures)}</div>'


def render_html(report: EvalReport, prepared: PreparedEvaluation | None) -> str:
    box, image, froc, fractured = report.box, report.image, report.froc, report.box_fractured_only
    model, data, counts, op = report.model, report.data, report.counts, report.operating_point
    bootstrap = report.settings.bootstrap
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>bonefrac evaluation</title>"
        f"<style>{_STYLE}</style></head><body>"
    ]
    parts.append(
        f"<h1>Evaluation of {html.escape(Path(model.weights).name)} on split '{html.escape(data.split)}'</h1>"
    )
    parts.append(
        f"<p class='note'>Weights {html.escape(model.weights)} ({model.kind}, sha256 "
        f"{model.sha256[:16]}..., input {model.imgsz}). Data {html.escape(data.yaml)} "
        f"(fingerprint {data.fingerprint[:16]}...). {counts.images} images: "
        f"{counts.positive_images} with fractures ({counts.boxes} boxes), "
        f"{counts.background_images} without. Values with 95% bootstrap intervals in brackets "
        f"({bootstrap.resamples} image resamples, seed {bootstrap.seed}). "
        "Research use only; not a medical device.</p>"
    )
    if data.skipped_images:
        parts.append(
            f"<p class='note'>Skipped (unreadable): {html.escape('; '.join(data.skipped_images))}</p>"
        )
    parts.append(
        f"<h2>Operating point</h2><p>Threshold <b>{op.threshold:.4f}</b> by rule "
        f"<code>{html.escape(op.rule)}</code> chosen on split '{html.escape(str(op.split))}'. "
        f"{html.escape(op.note)}</p>"
    )
    parts.append(
        "<h2>Summary</h2>"
        + _table(
            ["metric", "value [95% CI]"],
            [
                ["box mAP50 (COCO 101-point)", _fmt(box.map50)],
                ["box mAP50-95 (COCO 101-point)", _fmt(box.map50_95)],
                ["box precision at threshold (IoU 0.5)", _fmt(box.precision)],
                ["box recall at threshold (IoU 0.5)", _fmt(box.recall)],
                ["box F1 at threshold", _fmt(box.f1)],
                ["image AUROC", _fmt(image.auroc)],
                ["image sensitivity at threshold", _fmt(image.sensitivity)],
                ["image specificity at threshold", _fmt(image.specificity)],
                ["FROC score (mean sensitivity at 1/8..8 FP/image)", _fmt(froc.score)],
            ],
        )
    )
    parts.append(
        "<h2>Fractured images only</h2><p class='note'>Box metrics on only the "
        f"{fractured.images} images with at least one fracture box ({fractured.boxes} boxes): the protocol "
        "of the FracAtlas paper's fractured-only test set. Boxes on images without fractures are left out, "
        "so precision and AP are higher than on all images; recall is the same. The bootstrap resamples "
        "these images alone.</p>"
        + _table(
            ["metric (fractured images only)", "value [95% CI]"],
            [
                ["box mAP50 (COCO 101-point)", _fmt(fractured.map50)],
                ["box mAP50-95 (COCO 101-point)", _fmt(fractured.map50_95)],
                ["box precision at threshold (IoU 0.5)", _fmt(fractured.precision)],
                ["box recall at threshold (IoU 0.5)", _fmt(fractured.recall)],
                ["box F1 at threshold", _fmt(fractured.f1)],
            ],
        )
    )
    ultra = box.ultralytics
    if ultra is not None:
        rows = (
            [["error", html.escape(ultra.error)]]
            if ultra.error is not None
            else [
                [label, "n/a" if value is None else f"{value:.3f}"]
                for label, value in (
                    ("mAP50", ultra.map50),
                    ("mAP50-95", ultra.map50_95),
                    ("precision", ultra.precision),
                    ("recall", ultra.recall),
                )
            ]
        )
        parts.append(
            f"<h3>ultralytics' own figures (labelled as such)</h3><p class='note'>"
            f"{html.escape(ultra.source)}</p>" + _table(["ultralytics metric", "value"], rows)
        )
    parts.append(
        "<h2>Per class</h2>"
        + _table(
            ["class", "AP50", "AP50-95", "precision", "recall", "F1"],
            [
                [html.escape(c), *(_fmt(m) for m in (v.ap50, v.ap50_95, v.precision, v.recall, v.f1))]
                for c, v in box.per_class.items()
            ],
        )
    )
    parts.append(
        "<h2>FROC</h2>"
        + _table(
            ["mean FP per image", "lesion sensitivity"],
            [[f"{p.fp_per_image:g}", _fmt(p.sensitivity)] for p in froc.points],
        )
    )
    bg = report.background
    parts.append(
        f"<h2>False positives on background images</h2><p>{bg.fp_boxes} false-positive boxes on "
        f"{bg.images} background images ({_fmt(bg.fp_boxes_per_image)} per image); "
        f"{bg.images_with_fp} background images with at least one box (rate "
        f"{_fmt(bg.image_fp_rate)}).</p>"
    )
    limits = report.by_size.limits
    parts.append(
        "<h2>By box size</h2><p class='note'>Relative to the image area: small "
        f"{html.escape(limits.small)}; medium {html.escape(limits.medium)}; "
        f"large {html.escape(limits.large)} (COCO's 32&sup2; and 96&sup2; px on 640&sup2;)."
        "</p>"
        + _table(
            ["size", "boxes", "AP50", "AP50-95", "recall at threshold"],
            [
                [name, str(s.boxes), _fmt(s.ap50), _fmt(s.ap50_95), _fmt(s.recall)]
                for name, s in report.by_size.sizes().items()
            ],
        )
    )
    meta = report.by_metadata
    if meta is not None:
        parts.append(
            f"<h2>By {html.escape(meta.column)}</h2><p class='note'>From {html.escape(meta.csv)}; "
            f"{meta.images_without_row} images without a row.</p>"
            + _table(
                [
                    "group",
                    "images",
                    "with fracture",
                    "mAP50",
                    "box recall",
                    "AUROC",
                    "sensitivity",
                    "specificity",
                    "FROC",
                ],
                [
                    [
                        html.escape(g),
                        str(v.images),
                        str(v.positive_images),
                        *(
                            _fmt(m)
                            for m in (
                                v.map50,
                                v.box_recall,
                                v.auroc,
                                v.sensitivity,
                                v.specificity,
                                v.froc_score,
                            )
                        ),
                    ]
                    for g, v in meta.groups.items()
                ],
            )
        )
    figures = [
        (plots.pr_curve_png, "PR curve"),
        (plots.roc_png, "ROC"),
        (plots.froc_png, "FROC"),
        (plots.confusion_png, "confusion"),
        (plots.threshold_png, "thresholds"),
    ]
    parts.append(
        "<h2>Plots</h2><div class='plots'>"
        + "".join(_img_tag(fn(report), alt) for fn, alt in figures)
        + "</div>"
    )
    if prepared is not None:
        worst, alarms = gallery_cases(prepared, op.threshold)
        legend = (
            "<p class='note'>Green: ground truth. Labelled boxes: detections at or above the threshold. "
            "Yellow frame: the false alarm in question.</p>"
        )
        parts.append("<h2>Worst misses</h2>" + legend + _gallery(prepared, worst, op.threshold))
        parts.append("<h2>Most confident false alarms</h2>" + _gallery(prepared, alarms, op.threshold))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(report: EvalReport, prepared: PreparedEvaluation | None, path: Path) -> Path:
    path = Path(path)
    path.write_text(render_html(report, prepared), encoding="utf-8")
    return path
