"""bonefrac.ui.case_file: the ZIP for a case file (annotated images, CSV, one HTML report per image)."""

import csv
import io
import zipfile
from datetime import UTC, datetime

import numpy as np

from bonefrac.card.record import ModelCard
from bonefrac.ui import present
from bonefrac.ui.case_file import CSV_FIELDS, CaseItem, case_csv, case_zip, report_html, unique_stems
from bonefrac.ui.reference import Reference, judge

CARD = ModelCard(name="tiny", version="1", class_names=["fractured"], input_size=64)


def _items(make_analysis):
    with_reference = make_analysis([[10, 10, 40, 40], [60, 5, 90, 30]], [0.9, 0.6])
    reference = Reference(np.array([[12, 10, 40, 42.0]]), np.array([0]), "uploaded wrist.txt")
    verdict = judge(with_reference.detections, reference)
    first = CaseItem(
        with_reference,
        present.annotated_png(with_reference),
        present.reference_png(with_reference, reference, verdict),
        present.verdict_line(reference, verdict),
        verdict,
    )
    plain = make_analysis([], [])
    return [first, CaseItem(plain, present.annotated_png(plain))]


def test_unique_stems_are_safe_and_distinct():
    assert unique_stems(["wrist.png", "wrist.dcm", "a b/c?.jpg", ""]) == [
        "wrist",
        "wrist-2",
        "c_",
        "radiograph",
    ]


def test_the_csv_has_one_row_per_image_with_its_verdict(make_analysis):
    rows = list(csv.DictReader(io.StringIO(case_csv(_items(make_analysis)))))
    assert [tuple(r) for r in rows] == [CSV_FIELDS] * 2
    first, second = rows
    assert first["file"] == "wrist.dcm" and first["boxes"] == "2" and first["max_confidence"] == "0.90000"
    assert (first["reference_boxes"], first["found"], first["missed"], first["false_alarms"]) == (
        "1",
        "1",
        "0",
        "1",
    )
    assert first["outcome"] == "found" and first["reference_png"] == "reference/wrist_reference.png"
    assert second["annotated_png"] == "annotated/wrist-2_annotated.png"  # same name: a distinct stem
    assert second["boxes"] == "0" and second["outcome"] == "" and second["reference_png"] == ""


def test_the_zip_holds_csv_images_reports_and_json(make_analysis):
    items = _items(make_analysis)
    archive = zipfile.ZipFile(io.BytesIO(case_zip(items, CARD)))
    assert sorted(archive.namelist()) == [
        "annotated/wrist-2_annotated.png",
        "annotated/wrist_annotated.png",
        "json/wrist-2_detections.json",
        "json/wrist_detections.json",
        "reference/wrist_reference.png",
        "reports/wrist-2_report.html",
        "reports/wrist_report.html",
        "results.csv",
    ]
    assert archive.read("annotated/wrist_annotated.png") == items[0].annotated_png
    assert archive.read("reference/wrist_reference.png").startswith(b"\x89PNG")
    assert archive.read("json/wrist_detections.json") == present.result_json(items[0].analysis)


def test_a_report_is_one_self_contained_page_with_both_pictures(make_analysis):
    item = _items(make_analysis)[0]
    page = report_html(item, CARD, created=datetime(2026, 12, 5, 18, 0, tzinfo=UTC))
    assert page.startswith("<!DOCTYPE html>") and "@page { size: A4" in page
    assert page.count('src="data:image/png;base64,') == 2  # prediction and reference, embedded
    assert "http://" not in page and "https://" not in page  # nothing fetched
    assert "Research use only" in page
    assert "found: 1 of 1 reference fracture found; 1 false alarm" in page
    assert "false alarm</td>" in page and "matches a fracture</td>" in page  # per-box verdict in the table
    assert "Report made 2026-12-05 18:00 UTC" in page
    assert present.call_line(item.analysis).split(".")[0] in page


def test_a_report_escapes_the_file_name(make_analysis):
    analysis = make_analysis([], [])
    item = CaseItem(analysis.__class__(**{**analysis.__dict__, "name": "<b>x</b>.png"}), b"\x89PNG")
    page = report_html(item, CARD)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;.png" in page
