"""bonefrac.ui.present: the table, PNG, JSON and model card text the page shows."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from bonefrac.card.record import ClassifierRef, ModelCard, OperatingPoint, OperatingPoints, Tier
from bonefrac.ui import present, thresholds


def test_box_rows_with_pixel_spacing(make_analysis):
    analysis = make_analysis([[10, 20, 30, 60]], [0.876], spacing=(0.2, 0.1))
    assert present.box_rows(analysis) == [
        {
            "box": "1",
            "class": "fractured",
            "confidence": "0.876",
            "tier": "high specificity (solid)",
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


def test_box_rows_name_each_boxs_tier(make_analysis):
    analysis = make_analysis([[10, 10, 40, 40], [50, 20, 90, 70]], [0.9, 0.1], min_confidence=0.05)
    assert [row["tier"] for row in present.box_rows(analysis)] == [
        "high specificity (solid)",
        "high sensitivity (dashed)",
    ]


@pytest.mark.parametrize(
    ("boxes", "confidences", "expected"),
    [
        (
            [[10, 10, 40, 40]],
            [0.9],
            "Call: high specificity: the score reaches the high-specificity operating point. "
            "Fracture probability: no classifier with this model; image score 0.900.",
        ),
        (
            [],
            [],
            "Call: negative: the score reaches neither operating point. "
            "Fracture probability: no classifier with this model; image score 0.000.",
        ),
    ],
)
def test_call_line(make_analysis, boxes, confidences, expected):
    assert present.call_line(make_analysis(boxes, confidences)) == expected


def test_call_line_with_a_classifiers_probability(make_analysis):
    analysis = make_analysis([[10, 10, 40, 40]], [0.9])
    analysis.response["image"].update(fracture_probability=0.8312, score=0.71, call="high_sensitivity")
    assert present.call_line(analysis) == (
        "Call: high sensitivity: the score reaches only the high-sensitivity operating point. "
        "Fracture probability 0.831 (classifier); image score 0.710."
    )


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


def test_annotated_png_draws_dashed_boxes_dashed(make_analysis):
    solid = make_analysis([[10, 10, 60, 50]], [0.9])
    dashed = make_analysis([[10, 10, 60, 50]], [0.1], min_confidence=0.05)
    assert dashed.box_tiers == ("high_sensitivity",)
    edge = [
        np.asarray(Image.open(io.BytesIO(present.annotated_png(a))).convert("RGB"))[50, 10:61]
        for a in (solid, dashed)
    ]
    coloured = [np.any(row != 90, axis=1) for row in edge]  # the bottom edge, against the grey image
    assert coloured[0].all() and 0.3 < coloured[1].mean() < 0.7


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
    assert document["detections"][0]["tier"] == "high_specificity"
    assert document["image"]["pixel_spacing_mm"] == [0.2, 0.1]
    assert document["image"]["call"] == "high_specificity"
    assert document["image"]["fracture_probability"] is None
    assert document["operating_points"]["tiered"] is False
    assert document["request_id"] == "in-process" and set(document["timings"]) == {
        "queue_ms",
        "inference_ms",
        "total_ms",
    }


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
    assert facts["classifier"] == "none"
    assert facts["metric: map50"] == "0.4123"
    assert facts["metric: per_class"] == '{"fractured": 0.4}'
    assert facts["limitation"] == "synthetic data only"
    assert facts["data credit"] == "FracAtlas (CC BY 4.0)"
    assert "Not a medical device" in facts["intended use"]


def test_operating_points_in_the_sidebar_and_the_card():
    points = OperatingPoints(
        image_score="fused",
        classifier_weight=0.6,
        split="val",
        high_specificity=Tier(image_threshold=0.7, box_threshold=0.4, target="specificity>=0.9"),
        high_sensitivity=Tier(
            image_threshold=0.3, box_threshold=0.1, target="sensitivity>=0.9", reached=False
        ),
    )
    classifier = ClassifierRef(sha256="cd" * 32, version="c1", input_size=224)
    card = ModelCard(
        name="m",
        version="1",
        class_names=["fractured"],
        input_size=640,
        operating_points=points,
        classifier=classifier,
    )
    assert present.operating_point_lines(card) == [
        "high specificity (solid boxes): image score >= 0.700, boxes >= 0.400 (specificity>=0.9)",
        "high sensitivity (dashed boxes): image score >= 0.300, boxes >= 0.100 (sensitivity>=0.9, "
        "target not reached)",
        "image score = 0.60 x classifier probability + 0.40 x the detector's top box",
    ]
    assert thresholds.start_value(card) == 0.1
    facts = present.card_facts(card)
    assert [value for key, value in facts if key == "operating points"] == present.operating_point_lines(card)
    assert dict(facts)["classifier"] == f"classifier.onnx c1 (sha256 {'cd' * 32})"


def test_start_threshold_of_a_card_without_tiers_is_its_operating_point():
    card = ModelCard(
        name="m",
        version="1",
        class_names=["fractured"],
        input_size=640,
        operating_point=OperatingPoint(threshold=0.3, rule="max_f1"),
    )
    assert thresholds.start_value(card) == 0.3
    assert present.operating_point_lines(card)[0].startswith("one operating point for both tiers: 0.300")


def test_card_facts_real_model_is_not_stand_in():
    card = ModelCard(name="m", version="1", class_names=["fractured"], input_size=640)
    assert dict(present.card_facts(card))["stand-in"] == "no"


def test_demo_images_lists_radiographs_only_sorted(tmp_path):
    for name in ("b.jpg", "a.PNG", "c.dcm", "README.md", "labels"):
        (tmp_path / name).mkdir() if name == "labels" else (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in present.demo_images(tmp_path)] == ["a.PNG", "b.jpg", "c.dcm"]
    assert present.demo_images(None) == [] and present.demo_images(tmp_path / "missing") == []


def test_demo_caption_says_which_kind_the_images_are(tmp_path):
    from bonefrac.demo.synthetic import write_synthetic_demo

    write_synthetic_demo(tmp_path / "synthetic", size=64)
    caption = present.demo_caption(tmp_path / "synthetic")
    assert "SYNTHETIC" in caption and "not real patients" in caption and "FracAtlas" not in caption
    fracatlas = tmp_path / "fracatlas"
    fracatlas.mkdir()
    (fracatlas / "demo.json").write_text(
        '{"kind": "fracatlas", "source": "test split", "rule": "by id", "credit": "c", "images": []}'
    )
    caption = present.demo_caption(fracatlas)
    assert (
        "FracAtlas test images" in caption and "Abedeen et al., Sci Data 10, 521 (2023), CC BY 4.0" in caption
    )


def test_demo_caption_of_a_folder_without_manifest_says_the_source_is_unknown(tmp_path):
    assert present.demo_caption(tmp_path) == (
        f"Or try demo radiographs from {tmp_path.name} (source unknown: no demo.json there)"
    )
    (tmp_path / "demo.json").write_text("[]")
    assert "source unknown: " in present.demo_caption(
        tmp_path
    ) and "not a demo manifest" in present.demo_caption(tmp_path)


def test_reference_png_draws_reference_boxes_in_green_and_verdict_line_names_the_source(make_analysis):
    from bonefrac.ui.reference import Reference, judge

    analysis = make_analysis([[10, 10, 40, 40]], [0.9])
    reference = Reference(
        np.array([[50.0, 20, 90, 70]]), np.array([0]), "uploaded wrist.txt", skipped_lines=1
    )
    verdict = judge(analysis.detections, reference)
    pixels = np.asarray(
        Image.open(io.BytesIO(present.reference_png(analysis, reference, verdict))).convert("RGB")
    )
    assert tuple(pixels[45, 50]) == present.REFERENCE_COLOUR  # the left edge of the reference box
    assert present.verdict_line(reference, verdict) == (
        "Reference (uploaded wrist.txt, matched at IoU >= 0.5; 1 unreadable label line skipped): missed: "
        "0 of 1 reference fracture found; 1 missed; 1 false alarm."
    )
    assert present.box_rows(analysis, verdict)[0]["reference"] == "false alarm"
