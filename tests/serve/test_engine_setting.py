"""BONEFRAC_ENGINE=openvino: the service loads the shipped model on OpenVINO and answers as on onnxruntime."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from bonefrac.export.samples import synthetic_samples

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "model" / "model.onnx"


def _answer(engine: str, png: bytes, tmp_path: Path) -> tuple[dict, str]:
    from fastapi.testclient import TestClient

    from bonefrac.serve.app import create_app
    from bonefrac.serve.settings import ServeSettings

    settings = ServeSettings(
        model_path=SHIPPED, engine=engine, audit_db_url=f"sqlite:///{tmp_path / f'{engine}.db'}"
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert app.state.service.wait_ready(60), app.state.service.load_error
        body = client.post("/v1/detect", files={"file": ("scan.png", png)}, data={"threshold": "0.01"})
        assert body.status_code == 200, body.text
        return body.json(), app.state.service.analyser.detector.describe()["engine"]


def test_the_service_answers_the_same_on_both_engines(tmp_path):
    pytest.importorskip("openvino")
    buffer = io.BytesIO()
    Image.fromarray(synthetic_samples(1)[0][1].pixels).save(buffer, format="PNG")
    answers = {engine: _answer(engine, buffer.getvalue(), tmp_path) for engine in ("onnxruntime", "openvino")}
    (ort_body, ort_engine), (ov_body, ov_engine) = answers["onnxruntime"], answers["openvino"]
    assert (ort_engine, ov_engine) == ("onnxruntime", "openvino")
    assert ov_body["image"]["call"] == ort_body["image"]["call"]
    assert ov_body["image"]["score"] == pytest.approx(ort_body["image"]["score"], abs=1e-3)
    assert len(ov_body["detections"]) == len(ort_body["detections"]) > 0
    for ov_box, ort_box in zip(ov_body["detections"], ort_body["detections"], strict=True):
        assert ov_box["confidence"] == pytest.approx(ort_box["confidence"], abs=1e-3)
