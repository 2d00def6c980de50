"""Serve fixtures: image bytes of every kind, a scripted engine, and clients over fake and real models."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from bonefrac.card.classifier import ClassifierCard
from bonefrac.card.record import ClassifierRef, ModelCard, OperatingPoints, Tier
from bonefrac.records import Detections, Radiograph
from bonefrac.serve.app import create_app
from bonefrac.serve.settings import ServeSettings

TEST_KEY = "unit-test-key-123"


# Two tiers for the scripted pair: score = 0.5 * probability + 0.5 * 0.9 (the strong box). A probability of
# 0.8 gives 0.85 (high_specificity: the 0.9 box solid, the 0.2 box dashed), 0.2 gives 0.55 (high_sensitivity:
# both dashed), 0.0 gives 0.45 (negative: no boxes).
SCRIPTED_POINTS = OperatingPoints(
    image_score="fused",
    classifier_weight=0.5,
    split="val",
    high_specificity=Tier(image_threshold=0.8, box_threshold=0.5, target="specificity>=0.9"),
    high_sensitivity=Tier(image_threshold=0.5, box_threshold=0.1, target="sensitivity>=0.9"),
)


class ScriptedEngine:
    """Finds one box per image (centre, confidence 0.9) and a weak one (0.2); can be made to block.

    `tiered=True` gives it a card with SCRIPTED_POINTS that names ScriptedClassifier's file."""

    def __init__(self, block: threading.Event | None = None, tiered: bool = False) -> None:
        self.card = ModelCard(name="scripted", version="1", class_names=["fractured"], input_size=64)
        if tiered:
            ref = ClassifierRef(sha256=ScriptedClassifier.sha256, version="1", input_size=64)
            self.card = self.card.model_copy(update={"classifier": ref, "operating_points": SCRIPTED_POINTS})
        self.sha256 = "ab" * 32
        self.input_size = 64
        self.block = block
        self.calls = 0

    def predict(self, image: Radiograph, conf: float | None = None, iou: float = 0.7) -> Detections:
        self.calls += 1
        if self.block is not None and self.calls > 1:  # the warm-up never blocks
            self.block.wait(30)
        h, w = image.height, image.width
        boxes = np.array([[w / 4, h / 4, 3 * w / 4, 3 * h / 4], [0, 0, w / 8, h / 8]], np.float32)
        found = Detections(boxes, np.array([0.9, 0.2]), np.array([0, 0]), ("fractured",))
        return found.above(conf if conf is not None else 0.25)


class ScriptedClassifier:
    """Says the same fracture probability for every image; counts its calls."""

    sha256 = "cd" * 32

    def __init__(self, probability: float = 0.8) -> None:
        self.card = ClassifierCard(name="scripted-classifier", version="1", input_size=64)
        self.value = probability
        self.calls = 0

    def probability(self, image: Radiograph) -> float:
        self.calls += 1
        return self.value


def png_bytes(size: tuple[int, int] = (96, 80), mode: str = "L") -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int] = (96, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0]), 128, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def dicom_bytes(with_pixels: bool = True, spacing: tuple[float, float] = (0.2, 0.25)) -> bytes:
    """A small CR DICOM (explicit VR little endian) with PixelSpacing; optionally without pixel data."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.PatientName = "Synthetic^Test"
    ds.PixelSpacing = [str(spacing[0]), str(spacing[1])]
    if with_pixels:
        rows, cols = 80, 96
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ds.PixelData = (np.arange(rows * cols, dtype=np.uint16).reshape(rows, cols) % 4096).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


class Samples:
    """Image bytes for requests (a fixture, so test modules need no package imports)."""

    png = staticmethod(png_bytes)
    jpeg = staticmethod(jpeg_bytes)
    dicom = staticmethod(dicom_bytes)


@pytest.fixture
def samples() -> type[Samples]:
    return Samples


@pytest.fixture
def scripted_engine() -> type[ScriptedEngine]:
    """The ScriptedEngine class (a fixture, so test modules need not import conftest by name)."""
    return ScriptedEngine


@pytest.fixture
def scripted_pair() -> Callable[..., tuple[ScriptedEngine, ScriptedClassifier]]:
    """Factory: scripted_pair(probability=0.8) -> a tiered ScriptedEngine and its ScriptedClassifier."""

    def make(probability: float = 0.8) -> tuple[ScriptedEngine, ScriptedClassifier]:
        return ScriptedEngine(tiered=True), ScriptedClassifier(probability)

    return make


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., ServeSettings]:
    """ServeSettings with an audit database in tmp_path and any overrides."""

    def build(**overrides: object) -> ServeSettings:
        values: dict[str, object] = {
            "model_path": tmp_path / "absent.onnx",
            "audit_db_url": f"sqlite:///{tmp_path / 'audit.db'}",
            "log_json": True,
            "refusal_delay_s": 0,
        }
        values.update(overrides)
        return ServeSettings(**values)  # type: ignore[arg-type]

    return build


@pytest.fixture
def client_for(settings_for: Callable[..., ServeSettings]) -> Iterator[Callable[..., TestClient]]:
    """Start an app over an engine (default: ScriptedEngine) and optionally a classifier, with settings
    overrides; waits until ready."""
    clients: list[TestClient] = []

    def start(
        engine: object | None = None, wait: bool = True, classifier: object | None = None, **overrides: object
    ) -> TestClient:
        app = create_app(
            settings_for(**overrides),
            engine=engine or ScriptedEngine(),  # type: ignore[arg-type]
            classifier=classifier,  # type: ignore[arg-type]
        )
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        if wait and not app.state.service.wait_ready(10):
            raise RuntimeError(f"service not ready: {app.state.service.load_error}")
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for()


@pytest.fixture
def api_client(tiny_onnx_model: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A TestClient over the REAL tiny YOLO11n ONNX model (onnxruntime Predictor), ready to answer."""
    settings = ServeSettings(
        model_path=tiny_onnx_model, audit_db_url=f"sqlite:///{tmp_path / 'audit.db'}", refusal_delay_s=0
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        if not app.state.service.wait_ready(60):
            raise RuntimeError(f"real model did not get ready: {app.state.service.load_error}")
        yield client
