"""UI fixtures: sample radiograph bytes (PNG, DICOM with pixel spacing) and a real service over TestClient."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bonefrac.records import Detections, Radiograph
from bonefrac.ui.client import Analysis, HttpClient, response_for


@pytest.fixture(scope="session")
def sample_png(synthetic_dataset: Path) -> bytes:
    """A 128 px synthetic radiograph from the shared synthetic set, as PNG bytes."""
    return sorted((synthetic_dataset.parent / "images" / "train").glob("*.png"))[0].read_bytes()


@pytest.fixture(scope="session")
def sample_dicom(sample_png: bytes) -> bytes:
    """The same image as a 16-bit DICOM with PixelSpacing 0.2 mm (rows) x 0.1 mm (columns)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    grey = np.asarray(Image.open(io.BytesIO(sample_png)).convert("L"), dtype=np.uint16) * 16
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("sample.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = grey.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [0.2, 0.1]
    ds.PixelData = grey.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def service_http(tiny_onnx_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpClient]:
    """HttpClient over a TestClient of the real service (create_app) serving the tiny ONNX model."""
    from fastapi.testclient import TestClient

    from bonefrac.serve.app import create_app
    from bonefrac.serve.settings import ServeSettings

    audit = tmp_path_factory.mktemp("audit") / "audit.db"
    settings = ServeSettings(model_path=tiny_onnx_model, audit_db_url=f"sqlite:///{audit}", log_json=False)
    with TestClient(create_app(settings)) as test_client:
        client = HttpClient(str(test_client.base_url), http=test_client)
        client.wait_until_ready(timeout_s=60, interval_s=0.1)
        yield client


@pytest.fixture
def make_analysis():
    """Factory: an Analysis of a grey 100 x 80 image with the given boxes (for presentation tests)."""
    return _make_analysis


def _make_analysis(
    boxes: list[list[float]], confidences: list[float], spacing: tuple[float, float] | None = None
) -> Analysis:
    from bonefrac.model_card import ModelCard

    radiograph = Radiograph(np.full((80, 100, 3), 90, np.uint8), "png", pixel_spacing_mm=spacing)
    detections = Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.array(confidences, np.float32),
        np.zeros(len(boxes), np.int64),
        ("fractured",),
    )
    card = ModelCard(name="tiny", version="1", class_names=["fractured"], input_size=64)
    response = response_for(detections, radiograph, b"bytes", card, "ab" * 32, 0.25, 12.0)
    return Analysis("wrist.dcm", radiograph, detections, 0.25, response)
