"""The default model shipped in deploy/model: consistent files, an honest card, served as is."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefrac.card.record import read_model_card
from bonefrac.card.text import fmt
from bonefrac.hashing import file_sha256

MODEL_DIR = Path(__file__).resolve().parents[2] / "deploy" / "model"
# Detector and classifier together at most 30 MB (fp32 YOLOv5n-u about 10 MB, its int8 variant about 3 MB,
# the EfficientNet-Lite0 classifier about 13 MB).
WEIGHTS_LIMIT_MB = 30.0


@pytest.fixture(scope="module")
def card():
    return read_model_card(MODEL_DIR / "model_card.json")


def test_card_describes_the_shipped_files(card):
    assert card.weights_sha256 == file_sha256(MODEL_DIR / "model.onnx")
    assert not card.stand_in and card.class_names == ["fractured"]
    int8 = MODEL_DIR / "model.int8.onnx"
    assert card.quantization is not None and "shipped" in card.quantization  # measured, then decided
    if card.quantization["shipped"]:
        assert card.quantization["sha256"] == file_sha256(int8)
    else:
        assert not int8.exists() and "not shipped" in (MODEL_DIR / "MODEL_CARD.md").read_text()
    weights_mb = sum(p.stat().st_size for p in MODEL_DIR.glob("*.onnx")) / 1e6
    assert weights_mb <= WEIGHTS_LIMIT_MB


def test_card_carries_the_evaluation_and_the_operating_point(card):
    point = card.operating_point
    assert point.split == "val" and point.rule != "default" and 0.0 < point.threshold < 1.0
    test = card.metrics["test"]
    assert test["split"] == "test" and test["threshold"] == pytest.approx(point.threshold)
    for key in ("map50", "map50_95", "auroc", "sensitivity", "specificity", "froc_score"):
        low, high = test[key]["ci95"]
        assert low <= test[key]["value"] <= high
    assert "FracAtlas" in (card.data_credit or "") and "CC BY 4.0" in card.data_credit
    assert card.limitations and "not a medical device" in card.intended_use.lower()


def test_readable_card_shows_the_same_numbers(card):
    text = (MODEL_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    test = card.metrics["test"]
    assert f"| Box mAP50 | {fmt(test['map50'])} " in text
    assert f"| Image AUROC | {fmt(test['auroc'])} " in text
    assert card.weights_sha256 in text and card.version in text
    assert "Not a medical device" in text and "Scientific Data 10, 521" in text
    for limit in card.limitations:
        assert limit in text


def test_shipped_model_folder_carries_no_demo_images():
    """Demo radiographs are prepared at run time (`bonefrac data demo`), never shipped with the model."""
    assert not (MODEL_DIR / "demo").exists()


def test_service_reports_the_shipped_model(card, tmp_path):
    from fastapi.testclient import TestClient

    from bonefrac.demo.prepare import prepare_demo
    from bonefrac.serve.app import create_app
    from bonefrac.serve.settings import ServeSettings

    settings = ServeSettings(model_path=MODEL_DIR / "model.onnx", audit_db_url=f"sqlite:///{tmp_path}/a.db")
    app = create_app(settings)
    with TestClient(app) as client:
        assert app.state.service.wait_ready(60), app.state.service.load_error
        described = client.get("/v1/model").json()
        assert described["sha256"] == card.weights_sha256
        assert described["card"]["version"] == card.version
        # what `make run` offers: a FracAtlas test image when FracAtlas is there, else a synthetic one
        demo = prepare_demo(tmp_path / "demo", cwd=MODEL_DIR.parents[1])
        image = tmp_path / "demo" / demo.manifest.images[0].file
        with image.open("rb") as handle:
            answer = client.post(
                "/v1/detect", files={"file": (image.name, handle, "application/octet-stream")}
            )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        model = body["model"]
        assert (model["version"], model["sha256"], model["stand_in"]) == (
            card.version,
            card.weights_sha256,
            False,
        )
    # the detector, the classifier the card names and two operating points: the answer is the analyser's
    from bonefrac.imaging.io import load_image
    from bonefrac.infer.analysis import FractureAnalyser

    assert card.classifier is not None and card.operating_points is not None
    classifier_sha256 = file_sha256(MODEL_DIR / card.classifier.file)
    assert model["classifier"]["sha256"] == card.classifier.sha256 == classifier_sha256
    assert described["classifier"]["sha256"] == card.classifier.sha256
    points = body["operating_points"]
    assert points["tiered"] is True
    assert points["high_sensitivity"]["image_threshold"] < points["high_specificity"]["image_threshold"]
    finding = FractureAnalyser.from_model(MODEL_DIR / "model.onnx").analyse(load_image(image))
    assert body["image"]["fracture_probability"] == pytest.approx(finding.fracture_probability, abs=1e-5)
    assert 0.0 <= body["image"]["fracture_probability"] <= 1.0
    assert body["image"]["score"] == pytest.approx(finding.image_score, abs=1e-5)
    assert body["image"]["call"] == finding.call
    assert [d["tier"] for d in body["detections"]] == list(finding.box_tiers)
    assert [d["confidence"] for d in body["detections"]] == [
        round(float(c), 5) for c in finding.detections.confidence
    ]


def test_card_carries_both_tiers_and_the_classifier(card):
    """Two operating points chosen on de-duplicated val, each measured on test; the classifier credited."""
    tiers = card.operating_points
    assert tiers is not None and tiers.split == "val"
    assert tiers.high_sensitivity.image_threshold <= tiers.high_specificity.image_threshold
    assert card.classifier is not None and (MODEL_DIR / card.classifier.file).is_file()
    text = (MODEL_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "ImageNet" in text and "COCO" in text  # both pretrained starts are credited


def test_shipped_int8_keeps_the_accuracy_the_card_reports(card):
    """The int8 copy ships only with its own test numbers within 0.01 of fp32 (box mAP50, image AUROC)."""
    if not card.quantization or not card.quantization.get("shipped"):
        pytest.skip("this model ships no int8 copy")
    fp32, int8 = card.metrics["test"], card.metrics["test_int8"]
    assert int8["images"] == fp32["images"]
    assert fp32["map50"]["value"] - int8["map50"]["value"] <= 0.01
    assert fp32["auroc"]["value"] - int8["auroc"]["value"] <= 0.01
    assert card.quantization["float_modules"]  # the sensitive modules stay in float
    assert (
        f"| Box mAP50 | {fmt(fp32['map50'])} | {fmt(int8['map50'])} |"
        in (MODEL_DIR / "MODEL_CARD.md").read_text()
    )


def test_service_preferring_int8_serves_the_shipped_copy(card, tmp_path):
    """BONEFRAC_PREFER_INT8 (the API image's setting) loads model.int8.onnx; /v1/model names it."""
    from fastapi.testclient import TestClient

    from bonefrac.serve.app import create_app
    from bonefrac.serve.settings import ServeSettings

    if not card.quantization or not card.quantization.get("shipped"):
        pytest.skip("this model ships no int8 copy")
    settings = ServeSettings(
        model_path=MODEL_DIR / "model.onnx", prefer_int8=True, audit_db_url=f"sqlite:///{tmp_path}/a.db"
    )
    app = create_app(settings)
    with TestClient(app) as client:
        assert app.state.service.wait_ready(60), app.state.service.load_error
        described = client.get("/v1/model").json()
    assert described["sha256"] == card.quantization["sha256"] == file_sha256(MODEL_DIR / "model.int8.onnx")
    assert described["sha256"] != card.weights_sha256
