"""Every route over a scripted engine: shapes, units, headers, metrics."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bonefrac.card.record import ModelCard


def test_detect_png_returns_boxes_model_and_timings(client, samples):
    response = client.post("/v1/detect", files={"file": ("x.png", samples.png(), "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert body["image"] == {
        "width": 96,
        "height": 80,
        "format": "png",
        "bytes": len(samples.png()),
        "sha256": body["image"]["sha256"],
        "pixel_spacing_mm": None,
        "fracture_probability": None,  # no classifier
        "score": 0.9,  # the detector's highest box
        "call": "high_specificity",
    }
    assert len(body["image"]["sha256"]) == 64
    assert body["model"] == {
        "name": "scripted",
        "version": "1",
        "sha256": "ab" * 32,
        "stand_in": False,
        "classifier": None,
    }
    assert body["threshold"] == 0.25  # the card's default operating point
    single = {"image_threshold": 0.25, "box_threshold": 0.25, "target": "default"}
    assert body["operating_points"] == {
        "image_score": "detector",
        "classifier_weight": 0.0,
        "tiered": False,
        "high_specificity": single,
        "high_sensitivity": single,
        "min_confidence": None,
    }
    (box,) = body["detections"]
    assert box["xyxy"] == [24.0, 20.0, 72.0, 60.0]
    assert (box["width_px"], box["height_px"]) == (48.0, 40.0)
    assert box["width_mm"] is None and box["class_name"] == "fractured"
    assert box["tier"] == "high_specificity"  # a card without tiers: every box at its threshold is solid
    assert set(body["timings"]) == {"queue_ms", "inference_ms", "total_ms"}


def test_detect_threshold_field_lowers_the_cut(client, samples):
    response = client.post("/v1/detect", files={"file": samples.png()}, data={"threshold": "0.1"})
    assert response.status_code == 200
    body = response.json()
    assert body["threshold"] == 0.1 and body["operating_points"]["min_confidence"] == 0.1
    assert [d["confidence"] for d in body["detections"]] == [0.9, 0.2]
    # below the card's single operating point a box shows only because of the lower threshold: dashed
    assert [d["tier"] for d in body["detections"]] == ["high_specificity", "high_sensitivity"]


def test_detect_settings_threshold_is_the_default(client_for, samples):
    client = client_for(threshold=0.95)
    body = client.post("/v1/detect", files={"file": samples.png()}).json()
    assert body["threshold"] == 0.95 and body["detections"] == []


def test_detect_dicom_gives_millimetres_from_pixel_spacing(client, samples):
    response = client.post("/v1/detect", files={"file": ("scan.dcm", samples.dicom(), "application/dicom")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["image"]["format"] == "dicom"
    assert body["image"]["pixel_spacing_mm"] == [0.2, 0.25]
    (box,) = body["detections"]
    assert box["width_mm"] == pytest.approx(48 * 0.25) and box["height_mm"] == pytest.approx(40 * 0.2)


def test_detect_sniffs_content_not_file_name(client, samples):
    response = client.post("/v1/detect", files={"file": ("looks.png", samples.jpeg(), "image/png")})
    assert response.status_code == 200
    assert response.json()["image"]["format"] == "jpeg"


def test_detect_request_ids_are_the_services_own_and_the_clients_is_kept_apart(client, samples):
    answers = [
        client.post("/v1/detect", files={"file": samples.png()}, headers={"X-Request-ID": "abc-123"})
        for _ in range(2)
    ]
    ids = [a.json()["request_id"] for a in answers]
    assert ids[0] != ids[1] and all(len(i) == 32 for i in ids)
    assert ids == [a.headers["X-Request-ID"] for a in answers]
    rows = client.app.state.service.audit.rows()
    assert [(r["request_id"], r["client_request_id"]) for r in rows] == [(i, "abc-123") for i in ids]
    odd = client.post("/v1/detect", files={"file": samples.png()}, headers={"X-Request-ID": "bad id;x"})
    assert client.app.state.service.audit.rows()[-1]["client_request_id"] is None
    assert odd.json()["request_id"] != "bad id;x"


def test_detect_annotated_returns_png_of_the_image_size(client, samples):
    response = client.post("/v1/detect/annotated", files={"file": samples.png()}, data={"threshold": "0.5"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["X-Detections"] == "1" and response.headers["X-Threshold"] == "0.5"
    assert response.headers["X-Call"] == "high_specificity"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (96, 80)


def test_model_returns_the_card(client):
    body = client.get("/v1/model").json()
    assert body["sha256"] == "ab" * 32
    assert body["card"]["class_names"] == ["fractured"]
    assert body["card"]["operating_point"]["threshold"] == 0.25
    assert body["classifier"] is None
    assert body["operating_points"]["tiered"] is False
    assert body["operating_points"]["high_specificity"]["box_threshold"] == 0.25
    assert body["operating_points"]["high_sensitivity"]["box_threshold"] == 0.25


def test_health_and_ready(client):
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json() == {"ready": True, "status": "ready", "detail": None}


def test_readyz_reports_a_model_that_failed_to_load(client_for, samples):
    class Broken:
        card = ModelCard(name="broken", version="1", class_names=["fractured"], input_size=32)
        sha256 = "0" * 64
        input_size = 32

        def predict(self, image, conf=None, iou=0.7):
            raise RuntimeError("corrupt weights")

    client = client_for(engine=Broken(), wait=False)
    service = client.app.state.service
    service._loader.join(10)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json()["status"] == "failed" and "corrupt weights" in response.json()["detail"]
    detect = client.post("/v1/detect", files={"file": samples.png()})
    assert detect.status_code == 503 and detect.json()["error"]["code"] == "not_ready"


def test_metrics_count_requests_latency_and_rejections(client, samples):
    client.post("/v1/detect", files={"file": samples.png()})
    client.post("/v1/detect", files={"file": b"not an image"})
    text = client.get("/metrics").text
    assert 'bonefrac_requests_total{method="POST",route="/v1/detect",status="200"} 1.0' in text
    assert 'bonefrac_requests_total{method="POST",route="/v1/detect",status="422"} 1.0' in text
    assert 'bonefrac_rejections_total{reason="invalid_image"} 1.0' in text
    assert 'bonefrac_request_duration_seconds_bucket{le="0.01",route="/v1/detect"}' in text
    assert "bonefrac_requests_in_flight" in text and "bonefrac_ready 1.0" in text


def test_openapi_documents_the_routes(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/detect", "/v1/detect/annotated", "/v1/model", "/healthz", "/readyz", "/metrics"} <= set(
        schema["paths"]
    )
    assert client.get("/docs").status_code == 200


def test_cors_origins_allow_the_ui(client_for):
    client = client_for(cors_origins="http://localhost:8501")
    response = client.options(
        "/v1/detect",
        headers={"Origin": "http://localhost:8501", "Access-Control-Request-Method": "POST"},
    )
    assert response.headers["access-control-allow-origin"] == "http://localhost:8501"
