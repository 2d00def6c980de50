"""bonefrac.ui.present: the table, PNG, JSON and model card text the page shows."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from bonefrac.card.record import ModelCard, OperatingPoint
from bonefrac.ui import present


def test_box_rows_with_pixel_spacing(make_analysis):
    analysis = make_analysis([[10, 20, 30, 60]], [0.876], spacing=(0.2, 0.1))
    assert present.box_rows(analysis) == [
        {
            "box": "1",
            "class": "fractured",
            "confidence": "0.876",
            "width (px)": "20.0",
            "height (px)": "40.0",
            "width (mm)": "2.0",
            "height (mm)": "8.0",
            "x1, y1, x2, y2": "10, 20, 30, 60",
        }
    ]


def test_box_rows_without_spacing_show_dash_for_mm(make_analysis):
    rows = present.box_rows(make_analysis([[0, 0, 5, 5], [1, 1, 2, 3]], [0.5, 0.4]))
    assert [row["box"] for row in rows] == ["1", "2"]
    assert {row["width (mm)"] for row in rows} == {"\u2014"}


def test_box_rows_empty(make_analysis):
    assert present.box_rows(make_analysis([], [])) == []


@pytest.mark.parametrize(
    ("boxes", "spacing", "expected"),
    [
        ([[0, 0, 5, 5]], (0.2, 0.1), "1 box at threshold 0.25 (100 x 80 px, 0.1 mm/px, 12 ms)"),
        ([], None, "0 boxes at threshold 0.25 (100 x 80 px, no pixel spacing (sizes in px only), 12 ms)"),
    ],
)
def test_summary_line(make_analysis, boxes, spacing, expected):
    assert present.summary_line(make_analysis(boxes, [0.5] * len(boxes), spacing)) == expected


def test_annotated_png_draws_the_box(make_analysis):
    analysis = make_analysis([[10, 10, 60, 50]], [0.9])
    pixels = np.asarray(Image.open(io.BytesIO(present.annotated_png(analysis))).convert("RGB"))
    assert pixels.shape == (80, 100, 3)
    assert not np.array_equal(pixels, analysis.radiograph.pixels)  # something was drawn
    assert np.array_equal(pixels[70:, :], analysis.radiograph.pixels[70:, :])  # below the box: untouched


def test_annotated_png_without_boxes_is_the_original(make_analysis):
    analysis = make_analysis([], [])
    pixels = np.asarray(Image.open(io.BytesIO(present.annotated_png(analysis))).convert("RGB"))
    assert np.array_equal(pixels, analysis.radiograph.pixels)


def test_result_json_round_trips_with_file_name(make_analysis):
    analysis = make_analysis([[10, 20, 30, 60]], [0.876], spacing=(0.2, 0.1))
    document = json.loads(present.result_json(analysis))
    assert document["file_name"] == "wrist.dcm"
    assert document["threshold"] == 0.25
    assert document["detections"][0]["width_mm"] == 2.0
    assert document["image"]["pixel_spacing_mm"] == [0.2, 0.1]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wrist.dcm", ("wrist_annotated.png", "wrist_detections.json")),
        ("a.b.png", ("a.b_annotated.png", "a.b_detections.json")),
        ("", ("radiograph_annotated.png", "radiograph_detections.json")),
    ],
)
def test_download_names(name, expected):
    assert present.download_names(name) == expected


def test_card_facts_flags_stand_in_and_lists_operating_point():
    card = ModelCard(
        name="stand-in",
        version="0",
        class_names=["fractured"],
        input_size=640,
        stand_in=True,
        operating_point=OperatingPoint(threshold=0.3, rule="max_f1", split="val", sensitivity=0.8),
        metrics={"map50": 0.41234, "per_class": {"fractured": 0.4}},
        data_credit="FracAtlas (CC BY 4.0)",
        limitations=["synthetic data only"],
    )
    facts = dict(present.card_facts(card))
    assert facts["stand-in"].startswith("YES")
    assert facts["operating point"] == "0.300 (max_f1, chosen on val, sensitivity 0.800)"
    assert facts["metric: map50"] == "0.4123"
    assert facts["metric: per_class"] == '{"fractured": 0.4}'
    assert facts["limitation"] == "synthetic data only"
    assert facts["data credit"] == "FracAtlas (CC BY 4.0)"
    assert "Not a medical device" in facts["intended use"]


def test_card_facts_real_model_is_not_stand_in():
    card = ModelCard(name="m", version="1", class_names=["fractured"], input_size=640)
    assert dict(present.card_facts(card))["stand-in"] == "no"


def test_demo_images_lists_radiographs_only_sorted(tmp_path):
    for name in ("b.jpg", "a.PNG", "c.dcm", "README.md", "labels"):
        (tmp_path / name).mkdir() if name == "labels" else (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in present.demo_images(tmp_path)] == ["a.PNG", "b.jpg", "c.dcm"]
    assert present.demo_images(None) == [] and present.demo_images(tmp_path / "missing") == []
