"""POST /v1/detect/dicom: the analysis of a DICOM radiograph as DICOM results (report; capture on request)."""

from __future__ import annotations

import io
import sys
from email import message_from_bytes
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

pytest.importorskip("highdicom", reason="DICOM results need the dicom extra: pip install 'bonefrac[dicom]'")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dicom_out"))  # the DX factory
from dicom_sources import PRIVATE_VALUES, synthetic_dx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from bonefrac.dicom_out.report import read_report  # noqa: E402
from bonefrac.serve.app import create_app  # noqa: E402
from bonefrac.serve.settings import ServeSettings  # noqa: E402

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "deploy" / "model" / "model.onnx"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dicom-api")
    app = create_app(ServeSettings(model_path=SHIPPED_MODEL, audit_db_url=f"sqlite:///{folder}/audit.db"))
    with TestClient(app) as test_client:
        assert app.state.service.wait_ready(60), app.state.service.load_error
        yield test_client


def part10(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def post(client, path: str, data: bytes, name: str = "scan.dcm"):
    return client.post(path, files={"file": (name, data, "application/dicom")})


def test_the_report_states_what_the_json_answer_says(client, tmp_path, dciodvfy):
    source = synthetic_dx(seed=21, size=320)
    data = part10(source)
    answer = post(client, "/v1/detect/dicom", data)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/dicom" and answer.headers["x-request-id"]
    path = tmp_path / "report.dcm"
    path.write_bytes(answer.content)
    assert dciodvfy(path) == []
    report = dcmread(path)
    assert report.StudyInstanceUID == source.StudyInstanceUID and report.Modality == "SR"
    read = read_report(report)
    plain = post(client, "/v1/detect", data).json()
    assert read.call == plain["image"]["call"] == answer.headers["x-call"]
    assert [b.xyxy for b in read.boxes] == [pytest.approx(tuple(d["xyxy"])) for d in plain["detections"]]
    assert all(b.referenced_sop_instance_uid == source.SOPInstanceUID for b in read.boxes)
    for value in PRIVATE_VALUES.values():
        assert value.encode() not in answer.content


def test_with_capture_the_answer_is_multipart_related_with_report_and_capture(client, dciodvfy, tmp_path):
    source = synthetic_dx(seed=22, size=320)
    answer = post(client, "/v1/detect/dicom?capture=true", part10(source))
    assert answer.status_code == 200, answer.text
    content_type = answer.headers["content-type"]
    assert content_type.startswith('multipart/related; type="application/dicom"; boundary=')
    message = message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + answer.content)
    parts = [part.get_payload(decode=True) for part in message.get_payload()]
    assert [part.get_content_type() for part in message.get_payload()] == ["application/dicom"] * 2
    report, capture = (dcmread(io.BytesIO(part)) for part in parts)
    assert (report.Modality, capture.Modality) == ("SR", "OT")
    assert capture.StudyInstanceUID == source.StudyInstanceUID and capture.pixel_array.shape == (320, 320, 3)
    for name, part in zip(("sr", "sc"), parts, strict=True):
        (tmp_path / f"{name}.dcm").write_bytes(part)
        assert dciodvfy(tmp_path / f"{name}.dcm") == []


def test_an_image_that_is_not_dicom_is_refused_with_the_way_to_go(client):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(buffer, "PNG")
    answer = post(client, "/v1/detect/dicom", buffer.getvalue(), name="scan.png")
    assert answer.status_code == 422
    message = answer.json()["error"]["message"]
    assert "need a DICOM image" in message and "this is png" in message and "/v1/detect" in message


def test_a_dicom_image_without_its_study_is_refused_with_the_reason(client):
    source = synthetic_dx(seed=23, size=128)
    del source.StudyInstanceUID
    answer = post(client, "/v1/detect/dicom", part10(source))
    assert answer.status_code == 422 and "StudyInstanceUID" in answer.json()["error"]["message"]
    assert post(client, "/v1/detect/dicom", part10(synthetic_dx(seed=24, size=128))).status_code == 200


def test_without_highdicom_the_route_says_what_to_install(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "highdicom", None)
    answer = post(client, "/v1/detect/dicom", part10(synthetic_dx(seed=25, size=128)))
    assert answer.status_code == 501
    assert answer.json()["error"]["code"] == "dicom_unavailable" and "bonefrac[dicom]" in answer.text
