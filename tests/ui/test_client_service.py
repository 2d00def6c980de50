"""The two clients on the tiny ONNX model: HttpClient against the real service, EngineClient in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefrac.errors import ImageError
from bonefrac.ui.client import EngineClient, HttpClient, ServiceError

pytestmark = pytest.mark.slow  # needs the tiny trained and exported model


@pytest.fixture(scope="module")
def engine_client(tiny_onnx_model: Path) -> EngineClient:
    return EngineClient(tiny_onnx_model)


def test_http_client_model_card_is_the_served_model(service_http: HttpClient, engine_client: EngineClient):
    assert service_http.model_card() == engine_client.model_card()


def test_http_client_analyze_finds_boxes_at_low_threshold(service_http: HttpClient, sample_png: bytes):
    analysis = service_http.analyze(sample_png, "wrist.png", 0.0)
    assert analysis.threshold == 0.0
    assert len(analysis.detections) > 0
    assert len(analysis.detections) == len(analysis.response["detections"])
    assert (analysis.radiograph.width, analysis.radiograph.height) == (128, 128)
    assert analysis.response["image"]["width"] == 128
    assert analysis.response["detections"][0]["width_mm"] is None  # PNG: no pixel spacing


def test_http_client_threshold_filters(service_http: HttpClient, sample_png: bytes):
    low = service_http.analyze(sample_png, "wrist.png", 0.0)
    cut = float(np.median(low.detections.confidence))
    high = service_http.analyze(sample_png, "wrist.png", cut)
    assert 0 < len(high.detections) < len(low.detections)
    assert np.all(high.detections.confidence >= cut - 1e-6)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"this is not an image at all", "could not use this file"),
        (b"", "could not use this file"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "could not use this file"),
    ],
)
def test_http_client_bad_upload_is_explained(service_http: HttpClient, data: bytes, expected: str):
    with pytest.raises(ServiceError) as info:
        service_http.analyze(data, "broken.png", 0.25)
    assert expected in info.value.plain
    assert info.value.status == 422
    assert len(info.value.plain) > len(expected) + 10  # the service's own reason is included


def test_http_and_engine_clients_agree(
    service_http: HttpClient, engine_client: EngineClient, sample_png: bytes
):
    over_http = service_http.analyze(sample_png, "wrist.png", 0.01)
    in_process = engine_client.analyze(sample_png, "wrist.png", 0.01)
    np.testing.assert_allclose(over_http.detections.xyxy, in_process.detections.xyxy, atol=0.01)
    np.testing.assert_allclose(over_http.detections.confidence, in_process.detections.confidence, atol=1e-4)
    assert set(in_process.response) == set(over_http.response)
    assert set(in_process.response["detections"][0]) == set(over_http.response["detections"][0])
    assert set(in_process.response["image"]) == set(over_http.response["image"])
    assert in_process.response["image"]["sha256"] == over_http.response["image"]["sha256"]
    assert in_process.response["model"] == over_http.response["model"]


def test_engine_client_dicom_sizes_in_mm(engine_client: EngineClient, sample_dicom: bytes):
    analysis = engine_client.analyze(sample_dicom, "wrist.dcm", 0.0)
    assert analysis.radiograph.pixel_spacing_mm == (0.2, 0.1)
    box = analysis.response["detections"][0]
    assert box["width_mm"] == pytest.approx(box["width_px"] * 0.1, abs=0.01)
    assert box["height_mm"] == pytest.approx(box["height_px"] * 0.2, abs=0.01)


def test_http_client_dicom_sizes_in_mm(service_http: HttpClient, sample_dicom: bytes):
    analysis = service_http.analyze(sample_dicom, "wrist.dcm", 0.0)
    box = analysis.response["detections"][0]
    assert box["width_mm"] == pytest.approx(box["width_px"] * 0.1, abs=0.01)
    assert analysis.radiograph.pixel_spacing_mm == (0.2, 0.1)


def test_engine_client_bad_image_raises_image_error(engine_client: EngineClient):
    with pytest.raises(ImageError, match="accepted formats"):
        engine_client.analyze(b"GIF89a not accepted", "x.gif", 0.25)


def test_http_client_api_key_required(tiny_onnx_model: Path, tmp_path: Path, sample_png: bytes):
    from fastapi.testclient import TestClient

    from bonefrac.serve.app import create_app
    from bonefrac.serve.settings import ServeSettings

    settings = ServeSettings(
        model_path=tiny_onnx_model,
        audit_db_url=f"sqlite:///{tmp_path / 'audit.db'}",
        api_keys=["ui:secret-key-123"],
        log_json=False,
    )
    with TestClient(create_app(settings)) as test_client:
        anonymous = HttpClient(str(test_client.base_url), http=test_client)
        anonymous.wait_until_ready(timeout_s=60, interval_s=0.1)
        with pytest.raises(ServiceError, match="needs a valid API key.*BONEFRAC_API_KEY") as info:
            anonymous.analyze(sample_png, "wrist.png", 0.5)
        assert info.value.status == 401
        test_client.headers.clear()
        keyed = HttpClient(str(test_client.base_url), http=test_client, api_key="secret-key-123")
        assert keyed.analyze(sample_png, "wrist.png", 0.5).response["threshold"] == 0.5


def test_engine_client_with_a_classifier_and_two_tiers(tiered_model, tiny_pair_reference):
    from bonefrac.imaging.io import load_image
    from bonefrac.infer.classifier import FractureClassifier

    model = tiered_model()
    client = EngineClient(model)
    data = tiny_pair_reference.image.read_bytes()
    analysis = client.analyze(data, "wrist.png", None)
    probability = FractureClassifier(model.parent / "classifier.onnx").probability(load_image(data))
    assert analysis.response["image"]["fracture_probability"] == pytest.approx(probability, abs=1e-5)
    assert analysis.response["image"]["call"] == "high_specificity"
    weaker = len(tiny_pair_reference.confidences) - 1
    assert analysis.box_tiers == ("high_specificity",) + ("high_sensitivity",) * weaker
    assert [d["tier"] for d in analysis.response["detections"]] == list(analysis.box_tiers)
    assert client.model_card().operating_points is not None


def test_http_client_default_threshold_is_the_models_operating_point(
    service_http: HttpClient, engine_client: EngineClient, sample_png: bytes
):
    over_http = service_http.analyze(sample_png, "wrist.png", None)
    in_process = engine_client.analyze(sample_png, "wrist.png", None)
    card = engine_client.model_card()
    assert over_http.threshold == in_process.threshold == card.operating_point.threshold
    assert over_http.response["operating_points"] == in_process.response["operating_points"]
    assert over_http.response["image"]["call"] == in_process.response["image"]["call"]
