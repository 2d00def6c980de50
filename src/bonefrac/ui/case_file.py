"""Results of several images for a case file: one ZIP with the annotated images, a CSV and a one-page HTML
report per image (self-contained: the images are embedded, nothing is fetched).

    items = [CaseItem(analysis, annotated_png, reference_png, verdict_text, verdict), ...]
    data = case_zip(items, card)                  # bytes of the ZIP
"""

from __future__ import annotations

import base64
import csv
import html
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath

from bonefrac.card.record import ModelCard
from bonefrac.ui import present
from bonefrac.ui.client import Analysis
from bonefrac.ui.performance import performance_lines
from bonefrac.ui.reference import Verdict

CSV_NAME = "results.csv"
CSV_FIELDS = (
    "file",
    "call",
    "fracture_probability",
    "image_score",
    "threshold",
    "boxes",
    "high_specificity_boxes",
    "high_sensitivity_boxes",
    "max_confidence",
    "reference_boxes",
    "found",
    "missed",
    "false_alarms",
    "outcome",
    "annotated_png",
    "reference_png",
    "report",
    "detections_json",
)


@dataclass(frozen=True)
class CaseItem:
    """One analysed image with what the page drew for it, and its verdict when it has a reference."""

    analysis: Analysis
    annotated_png: bytes
    reference_png: bytes | None = None
    verdict_text: str | None = None  # present.verdict_line(...)
    verdict: Verdict | None = None


def unique_stems(names: list[str]) -> list[str]:
    """A file stem per name, made unique within the list ("wrist", "wrist-2", ...), safe as a ZIP path."""
    seen: dict[str, int] = {}
    stems = []
    for name in names:
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in PurePath(name).stem) or "radiograph"
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


def _number(value: object, digits: int = 5) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def csv_row(item: CaseItem, stem: str) -> dict[str, str]:
    """One CSV row for an image: its call, scores, boxes per tier, the verdict and its files in the ZIP."""
    analysis, verdict = item.analysis, item.verdict
    image = analysis.response.get("image", {})
    tiers = analysis.box_tiers
    confidences = [float(c) for c in analysis.detections.confidence]
    return {
        "file": analysis.name,
        "call": str(image.get("call", "")),
        "fracture_probability": _number(image.get("fracture_probability")),
        "image_score": _number(image.get("score")),
        "threshold": _number(analysis.threshold),
        "boxes": str(len(analysis.detections)),
        "high_specificity_boxes": str(tiers.count("high_specificity")),
        "high_sensitivity_boxes": str(tiers.count("high_sensitivity")),
        "max_confidence": _number(max(confidences) if confidences else None),
        "reference_boxes": "" if verdict is None else str(len(verdict.reference_found)),
        "found": "" if verdict is None else str(verdict.found),
        "missed": "" if verdict is None else str(verdict.missed),
        "false_alarms": "" if verdict is None else str(verdict.false_alarms),
        "outcome": "" if verdict is None else verdict.outcome,
        "annotated_png": f"annotated/{stem}_annotated.png",
        "reference_png": "" if item.reference_png is None else f"reference/{stem}_reference.png",
        "report": f"reports/{stem}_report.html",
        "detections_json": f"json/{stem}_detections.json",
    }


def case_csv(items: list[CaseItem]) -> str:
    """The CSV of all images, one row each (CSV_FIELDS)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for item, stem in zip(items, unique_stems([i.analysis.name for i in items]), strict=True):
        writer.writerow(csv_row(item, stem))
    return buffer.getvalue()


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "<p>No boxes at these operating points.</p>"
    head = "".join(f"<th>{html.escape(key)}</th>" for key in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(value)}</td>" for value in row.values()) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


REPORT_STYLE = """
@page { size: A4; margin: 12mm; }
body { font-family: sans-serif; font-size: 10pt; margin: 0 auto; max-width: 190mm; color: #111; }
h1 { font-size: 14pt; margin: 0 0 4pt; }
.notice { border: 1px solid #c60; background: #fff4e5; padding: 4pt 6pt; }
.panels { display: flex; gap: 6pt; }
figure { flex: 1; margin: 0; }
figure img { width: 100%; max-height: 110mm; object-fit: contain; background: #000; }
figcaption { font-size: 9pt; color: #444; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; margin-top: 4pt; }
th, td { border: 1px solid #bbb; padding: 1pt 3pt; text-align: left; }
.small { font-size: 8.5pt; color: #444; }
"""


def report_html(item: CaseItem, card: ModelCard, created: datetime | None = None) -> str:
    """A one-page, self-contained HTML report of one image: call, verdict, both pictures, boxes, the model."""
    analysis = item.analysis
    created = created or datetime.now(UTC)
    image = analysis.response.get("image", {})
    model = analysis.response.get("model", {})
    panels = [f"<figure>{_img(item.annotated_png, 'prediction')}<figcaption>prediction</figcaption></figure>"]
    if item.reference_png is not None:
        panels.append(
            f"<figure>{_img(item.reference_png, 'reference')}<figcaption>reference</figcaption></figure>"
        )
    verdict = f"<p><b>{html.escape(item.verdict_text)}</b></p>" if item.verdict_text else ""
    facts = [
        f"File: {analysis.name} (sha256 {image.get('sha256', 'unknown')})",
        present.summary_line(analysis),
        f"Model: {card.name} {card.version} (sha256 {model.get('sha256', card.weights_sha256 or 'unknown')})",
        *present.operating_point_lines(card),
        *performance_lines(card),
        f"Report made {created.strftime('%Y-%m-%d %H:%M UTC')} by bonefrac.",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(analysis.name)}: bonefrac report</title>"
        f"<style>{REPORT_STYLE}</style></head><body>"
        f"<h1>{html.escape(analysis.name)}</h1>"
        f'<p class="notice">{html.escape(present.RESEARCH_NOTICE)}</p>'
        f"<p><b>{html.escape(present.call_line(analysis))}</b></p>{verdict}"
        f'<div class="panels">{"".join(panels)}</div>'
        f'<p class="small">{html.escape(present.LEGEND)}</p>'
        f"{_table(present.box_rows(analysis, item.verdict))}"
        + "".join(f'<p class="small">{html.escape(line)}</p>' for line in facts)
        + "</body></html>\n"
    )


def case_zip(items: list[CaseItem], card: ModelCard, created: datetime | None = None) -> bytes:
    """The ZIP: results.csv, annotated/, reference/ (images with labels), reports/ and json/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(CSV_NAME, case_csv(items))
        for item, stem in zip(items, unique_stems([i.analysis.name for i in items]), strict=True):
            archive.writestr(f"annotated/{stem}_annotated.png", item.annotated_png)
            if item.reference_png is not None:
                archive.writestr(f"reference/{stem}_reference.png", item.reference_png)
            archive.writestr(f"reports/{stem}_report.html", report_html(item, card, created))
            archive.writestr(f"json/{stem}_detections.json", present.result_json(item.analysis))
    return buffer.getvalue()
