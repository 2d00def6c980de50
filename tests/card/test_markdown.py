"""MODEL_CARD.md rendering: every number from the evaluation record, references beside their counterpart."""

from __future__ import annotations

from bonefrac.card.limitations import derive_limitations
from bonefrac.card.markdown import render_model_card
from bonefrac.card.record import ModelCard, OperatingPoint
from bonefrac.card.references import load_reference_results
from bonefrac.card.text import fmt
from bonefrac.evaluate.record import Metric, UltralyticsFigures


def _card() -> ModelCard:
    return ModelCard(
        name="m",
        version="1",
        class_names=["fractured"],
        input_size=320,
        operating_point=OperatingPoint(
            threshold=0.4, rule="max_f1", split="val", sensitivity=0.5, specificity=0.8
        ),
        weights_sha256="ab" * 32,
    )


def test_results_table_has_the_all_image_and_the_fractured_only_rows(report):
    text = render_model_card(_card(), report)
    n = report.box_fractured_only.images
    assert f"| Box mAP50 | {fmt(report.box.map50)} |" in text  # the shipped card's row, unchanged
    assert f"| Image AUROC | {fmt(report.image.auroc)} |" in text
    assert f"| Box mAP50, fractured test images only ({n}; the FracAtlas paper's test set) | " in text
    assert f"| Box mAP50-95, fractured test images only | {fmt(report.box_fractured_only.map50_95)} |" in text
    assert f"only | {fmt(report.box_fractured_only.precision)} |" in text
    assert "Compared with" not in text  # no references asked for
    for limit in derive_limitations(report, None):
        assert f"- {limit}" in text


def test_int8_column_shows_the_int8_evaluation(report, build_report):
    int8 = build_report(seed=1, sha256="cd" * 32)
    card = _card().model_copy(update={"quantization": {"shipped": False, "decision": "lost mAP50"}})
    text = render_model_card(card, report, int8_test=int8)
    assert "| fp32 model.onnx | int8 (measured, not shipped) |" in text
    assert f"| Box mAP50 | {fmt(report.box.map50)} | {fmt(int8.box.map50)} |" in text


def test_references_sit_beside_this_models_number_under_their_protocol(report):
    references = load_reference_results().references
    pt = report.model_copy(
        update={
            "box": report.box.model_copy(
                update={
                    "ultralytics": UltralyticsFigures(map50=0.2, map50_95=0.05, precision=0.3, recall=0.25)
                }
            )
        }
    )
    text = render_model_card(_card(), report, references=references, pt_test=pt)
    rows = {line.split(":")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    paper = rows["YOLOv8s"]
    assert "| box level, fractured test images only; measured by the authors" in paper
    assert paper.endswith(f"| mAP50 0.562 | mAP50 {fmt(report.box_fractured_only.map50)} |")
    assert rows["RT-DETR"].endswith(f"| mAP50 0.413 | mAP50 {fmt(report.box_fractured_only.map50)} |")
    anchor = rows["YOLO11n (plain ultralytics anchor)"]
    assert "| box level, all test images; measured by ultralytics' own val" in anchor
    assert anchor.endswith(
        f"| mAP50 {fmt(report.box.map50)}, mAP50-95 {fmt(report.box.map50_95)}, "
        f"precision {fmt(report.box.precision)}, recall {fmt(report.box.recall)} |"
    )
    classifier = rows["ResNet-18 image classifier (ImageNet weights), 448 px"]
    assert classifier.endswith(f"| AUROC 0.940 | AUROC {fmt(report.image.auroc)} |")
    assert "ultralytics' own val on this model's source .pt at 320 px" in text and "mAP50 0.200" in text
    assert "same-budget GPU comparison is declared in configs/experiments/default_model.yaml." in text


def test_undefined_numbers_read_n_a(report):
    undefined = report.model_copy(update={"box": report.box.model_copy(update={"map50": Metric()})})
    assert "| Box mAP50 | n/a |" in render_model_card(_card(), undefined)


def test_refreshing_the_int8_parts_keeps_the_rest_of_the_card(report, build_report):
    """A model quantized after its card was published: only the int8 line and the test table change."""
    from bonefrac.card.markdown import refresh_int8_sections

    old = _card().model_copy(update={"quantization": {"shipped": False, "decision": "lost mAP50"}})
    published = render_model_card(old, report, int8_test=build_report(seed=1, sha256="cd" * 32))
    published = published.replace("## Known limits", "## Known limits\n- a hand-kept line stays")
    int8 = build_report(seed=2, sha256="ef" * 32)
    quantization = {"shipped": True, "decision": "keeps it", "sha256": "ef" * 32, "speedup": 1.6}
    new = old.model_copy(
        update={"quantization": {**quantization, "threads": 1, "float_modules": ["model.0"]}}
    )
    text = refresh_int8_sections(published, new, report, int8)
    assert "| fp32 model.onnx | int8 model.int8.onnx |" in text
    assert f"| Box mAP50 | {fmt(report.box.map50)} | {fmt(int8.box.map50)} |" in text
    assert "not shipped" not in text
    assert (
        "- `model.int8.onnx`: the same model statically quantized to int8, modules model.0 kept in " in text
    )
    assert "1.6x the fp32 session speed at 1 threads" in text
    assert "- a hand-kept line stays" in text
    assert text.count("| Metric (95 % bootstrap interval)") == 1
    assert [line for line in text.splitlines() if "Intended use" in line] == [
        line for line in published.splitlines() if "Intended use" in line
    ]
