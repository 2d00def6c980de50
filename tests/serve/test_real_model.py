"""The service over a REAL tiny YOLO11n ONNX model (onnxruntime Predictor), not a scripted engine."""

from __future__ import annotations

import pytest

from bonefrac.hashing import file_sha256

pytestmark = pytest.mark.slow


def test_real_model_detect_answers_with_model_facts(api_client, tiny_onnx_model, samples):
    response = api_client.post(
        "/v1/detect", files={"file": samples.png((128, 100))}, data={"threshold": "0.001"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["sha256"] == file_sha256(tiny_onnx_model)
    assert body["image"]["width"] == 128 and body["image"]["height"] == 100
    for box in body["detections"]:
        x1, y1, x2, y2 = box["xyxy"]
        assert 0 <= x1 <= x2 <= 128 and 0 <= y1 <= y2 <= 100
        assert box["confidence"] >= 0.001


def test_real_model_annotated_png_and_card(api_client, samples):
    png = api_client.post("/v1/detect/annotated", files={"file": samples.dicom()})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    card = api_client.get("/v1/model").json()["card"]
    assert card["input_size"] == 64 and card["class_names"] == ["fractured"]


def test_real_model_bad_inputs_are_4xx(api_client, samples):
    for files in (
        {"file": b"junk" * 20},
        {"file": samples.png()[:100]},
        {"file": samples.dicom(with_pixels=False)},
    ):
        response = api_client.post("/v1/detect", files=files)
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_image"
    assert api_client.get("/readyz").json()["ready"] is True


def test_real_pair_answers_with_the_classifiers_probability_and_a_call(
    tiered_model, tiny_pair_reference, tmp_path
):
    from fastapi.testclient import TestClient

    from bonefrac.imaging.io import load_image
    from bonefrac.infer.classifier import FractureClassifier
    from bonefrac.serve.app import create_app
    from bonefrac.serve.settings import ServeSettings

    model = tiered_model()
    settings = ServeSettings(model_path=model, audit_db_url=f"sqlite:///{tmp_path / 'pair.db'}")
    app = create_app(settings)
    data = tiny_pair_reference.image.read_bytes()
    with TestClient(app, raise_server_exceptions=False) as client:
        assert app.state.service.wait_ready(60), app.state.service.load_error
        body = client.post("/v1/detect", files={"file": ("x.png", data)}).json()
        described = client.get("/v1/model").json()
    probability = FractureClassifier(model.parent / "classifier.onnx").probability(load_image(data))
    assert body["image"]["fracture_probability"] == pytest.approx(probability, abs=1e-5)
    assert body["image"]["call"] == "high_specificity"
    weaker = len(tiny_pair_reference.confidences) - 1
    assert [d["tier"] for d in body["detections"]] == ["high_specificity"] + ["high_sensitivity"] * weaker
    sha = file_sha256(model.parent / "classifier.onnx")
    assert body["model"]["classifier"]["sha256"] == sha == described["classifier"]["sha256"]
    assert described["operating_points"]["tiered"] is True
