"""`bonefrac data report`: a self-contained HTML page (plots and images embedded) of a data set's EDA."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import logging
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bonefrac.data import plots
from bonefrac.data.checks import CheckOutcome, ProgressCallback, run_checks, write_report_json
from bonefrac.data.duplicates import label_disagreement
from bonefrac.data.image_checks import open_lenient
from bonefrac.data.label_checks import LabelScan
from bonefrac.data.stats import box_arrays
from bonefrac.geometry import cxcywh_to_xyxy
from bonefrac.records import DatasetSpec

log = logging.getLogger(__name__)

TILE = 256  # longer side of sample images in the grid
BOX_COLOURS = ((230, 60, 60), (60, 160, 255), (80, 200, 80), (240, 200, 40), (200, 90, 220))
STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child{text-align:left}.error{color:#b00}.warning{color:#a60}.info{color:#06a}
.grid{display:flex;flex-wrap:wrap;gap:8px}.grid figure{margin:0;font-size:11px;text-align:center}
img.plot{max-width:100%}code{font-size:12px}details{margin:.3em 0}
"""


def _data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def draw_boxes(path: Path, label: LabelScan, class_names: Sequence[str], side: int = TILE) -> Image.Image:
    """The image (decoded leniently, shrunk to `side`) with its ground-truth boxes and class names."""
    image = open_lenient(path).convert("RGB")
    image.thumbnail((side, side), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    w, h = image.size
    rows = np.asarray(label.boxes, dtype=np.float64).reshape(-1, 5)
    pixels = cxcywh_to_xyxy(rows[:, 1:]) * np.array([w, h, w, h], dtype=np.float64)
    for cls, xyxy in zip(rows[:, 0], pixels, strict=True):
        colour = BOX_COLOURS[int(cls) % len(BOX_COLOURS)]
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        box = (x1, y1, x2, y2)
        draw.rectangle(box, outline=colour, width=2)
        draw.text((box[0] + 2, max(0, box[1] - 11)), class_names[int(cls)], fill=colour)
    return image


def _figure(uri: str, caption: str) -> str:
    return f'<figure><img src="{uri}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _samples(outcome: CheckOutcome, class_names: Sequence[str], per_split: int, seed: int) -> str:
    """A seeded grid per split: mostly images with boxes, plus a few backgrounds."""
    parts = []
    rng = random.Random(seed)
    for split, scans in outcome.images.items():
        pairs = [
            (s, lab) for s, lab in zip(scans, outcome.labels[split], strict=True) if s.status != "corrupt"
        ]
        positives = [p for p in pairs if len(p[1].boxes)]
        backgrounds = [p for p in pairs if not len(p[1].boxes)]
        n_bg = min(len(backgrounds), max(1, per_split // 4))
        chosen = rng.sample(positives, min(len(positives), per_split - n_bg)) + rng.sample(backgrounds, n_bg)
        figures = []
        for scan, label in chosen:
            try:
                uri = _data_uri(_jpeg(draw_boxes(scan.path, label, class_names)), "image/jpeg")
            except OSError as exc:
                log.warning("cannot draw %s: %s", scan.path, exc)
                continue
            figures.append(_figure(uri, f"{scan.path.name} ({len(label.boxes)} boxes)"))
        parts.append(f"<h3>{html.escape(split)}</h3><div class='grid'>{''.join(figures)}</div>")
    return "".join(parts)


def _near_duplicate_pairs(outcome: CheckOutcome, class_names: Sequence[str], limit: int) -> str:
    labels = {
        scan.path: label
        for split in outcome.images
        for scan, label in zip(outcome.images[split], outcome.labels[split], strict=True)
    }
    rows = []
    across = [pair for pair in outcome.near_duplicates if pair.split_a != pair.split_b]
    # pairs whose labels disagree first: they are the ones to look at
    ordered = sorted(across, key=lambda p: label_disagreement(labels[p.a], labels[p.b], p.a_to_b) is None)
    for pair in ordered[:limit]:
        left = draw_boxes(pair.a, labels[pair.a], class_names, side=200)
        right = draw_boxes(pair.b, labels[pair.b], class_names, side=200)
        canvas = Image.new("RGB", (left.width + right.width + 8, max(left.height, right.height)), "white")
        canvas.paste(left, (0, 0))
        canvas.paste(right, (left.width + 8, 0))
        conflict = label_disagreement(labels[pair.a], labels[pair.b], pair.a_to_b)
        caption = (
            f"{pair.split_a}: {pair.a.name}  |  {pair.split_b}: {pair.b.name}  "
            f"({pair.how}, pixel correlation {pair.correlation:.3f})"
            + (f" - LABELS DISAGREE: {conflict}" if conflict else "")
        )
        rows.append(_figure(_data_uri(_jpeg(canvas), "image/jpeg"), caption))
    more = len(across) - limit
    note = f"<p>... and {more} more pairs (see report.json).</p>" if more > 0 else ""
    if not rows:
        return "<p>No near-duplicate pairs across splits.</p>"
    return f"<div class='grid'>{''.join(rows)}</div>{note}"


def _split_table(outcome: CheckOutcome) -> str:
    report = outcome.report
    head = "".join(f"<th>{c}</th>" for c in ("split", "images", "with boxes", "backgrounds", "boxes"))
    head += "".join(f"<th>{html.escape(n)}</th>" for n in report.class_names)
    head += "<th>median box area</th><th>common sizes</th>"
    rows = []
    for split, s in report.splits.items():
        area = s.box_size.get("area", {}).get("median")
        sizes = ", ".join(f"{x['size']} ({x['images']})" for x in s.image_size.get("most_common", [])[:3])
        cells = [split, s.images, s.with_boxes, f"{s.backgrounds} ({s.background_share:.0%})", s.boxes]
        cells += [s.boxes_per_class[n] for n in report.class_names]
        cells += [f"{area:.2%}" if area is not None else "-", sizes]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _findings(outcome: CheckOutcome) -> str:
    findings = outcome.report.findings
    if not findings:
        return "<p>No findings: the data set passed every check.</p>"
    counts = Counter((f.severity, f.kind) for f in findings)
    parts = []
    for (severity, kind), n in counts.items():
        items = [f for f in findings if f.kind == kind and f.severity == severity]
        lines = "".join(
            f"<li><code>{html.escape(', '.join(f.files[:4]))}</code>: {html.escape(f.detail)}</li>"
            for f in items[:20]
        )
        more = f"<li>... {n - 20} more in report.json</li>" if n > 20 else ""
        parts.append(
            f"<details><summary><span class='{severity}'>{severity}</span> <b>{kind}</b>: {n}</summary>"
            f"<ul>{lines}{more}</ul></details>"
        )
    return "".join(parts)


def _plots(outcome: CheckOutcome) -> str:
    report = outcome.report
    boxes = {s: box_arrays(outcome.labels[s], outcome.images[s]) for s in outcome.images}
    per_image = {s: np.array([len(lab.boxes) for lab in outcome.labels[s]]) for s in outcome.labels}
    sizes = {
        s: np.array([(x.width, x.height) for x in outcome.images[s] if x.width], dtype=np.int64).reshape(
            -1, 2
        )
        for s in outcome.images
    }
    figures = [
        plots.class_counts(report.splits),
        plots.boxes_per_image(per_image),
        plots.box_shapes(boxes),
        plots.centre_heatmap(boxes),
        plots.image_sizes(sizes),
    ]
    return "".join(f'<img class="plot" src="{_data_uri(png)}">' for png in figures)


def write_html_report(
    spec: DatasetSpec,
    out_dir: Path,
    workers: int | None = None,
    on_progress: ProgressCallback | None = None,
    samples_per_split: int = 12,
    max_pairs: int = 24,
    seed: int = 0,
) -> Path:
    """Run the data checks and write out_dir/report.html (self-contained) and out_dir/report.json."""
    outcome = run_checks(spec, workers=workers, on_progress=on_progress)
    report = outcome.report
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report_json(report, out_dir / "report.json")
    summary = (
        f"{report.count('error')} errors, {report.count('warning')} warnings, {report.count('info')} notes"
    )
    body = [
        f"<h1>Data report: {html.escape(str(spec.yaml_path))}</h1>",
        f"<p>Classes: {html.escape(', '.join(spec.class_names))}. "
        f"Fingerprint <code>{spec.fingerprint[:16]}</code>. "
        f"Written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by bonefrac data report.</p>",
        "<h2>Splits</h2>",
        _split_table(outcome),
        f"<h2>Findings ({summary})</h2>",
        _findings(outcome),
        "<h2>Distributions</h2>",
        _plots(outcome),
        "<h2>Sample images with their ground-truth boxes</h2>",
        _samples(outcome, spec.class_names, samples_per_split, seed),
        f"<h2>Copies across splits ({sum(p.split_a != p.split_b for p in outcome.near_duplicates)})</h2>",
        _near_duplicate_pairs(outcome, spec.class_names, max_pairs),
    ]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>bonefrac data report</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
