"""UI fixtures: sample radiograph bytes (PNG, DICOM with pixel spacing) and a real service over TestClient."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import signal
import subprocess
import sys
import time
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


class _FixedDetector:
    """A detector that finds the given boxes on any image (card: one operating point at 0.25)."""

    sha256 = "ab" * 32
    input_size = 64

    def __init__(self, found: Detections) -> None:
        from bonefrac.card.record import ModelCard

        self.card = ModelCard(name="tiny", version="1", class_names=["fractured"], input_size=64)
        self.found = found

    def predict(self, image: Radiograph, conf: float | None = None, iou: float = 0.7) -> Detections:
        return self.found.above(0.25 if conf is None else conf)


def _make_analysis(
    boxes: list[list[float]],
    confidences: list[float],
    spacing: tuple[float, float] | None = None,
    min_confidence: float | None = None,
) -> Analysis:
    """Boxes at or above 0.25 are solid; `min_confidence` below 0.25 adds the weaker ones, dashed."""
    from bonefrac.infer.analysis import FractureAnalyser
    from bonefrac.infer.result_schema import image_result

    radiograph = Radiograph(np.full((80, 100, 3), 90, np.uint8), "png", pixel_spacing_mm=spacing)
    detections = Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.array(confidences, np.float32),
        np.zeros(len(boxes), np.int64),
        ("fractured",),
    )
    analyser = FractureAnalyser(_FixedDetector(detections))
    finding = analyser.analyse(radiograph, min_confidence=min_confidence)
    result = image_result(analyser, finding, radiograph, size_bytes=5, sha256="cd" * 32)
    response = response_for(result, 12.0)
    return Analysis(
        "wrist.dcm", radiograph, finding.detections, result.threshold, response, finding.box_tiers
    )


@pytest.fixture(name="free_port")
def _free_port_fixture():
    """free_port() as a fixture, for tests that start servers."""
    return free_port


@pytest.fixture(name="subprocess_env")
def _subprocess_env_fixture():
    """subprocess_env(**extra) as a fixture, for tests that start bonefrac in a subprocess."""
    return subprocess_env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Launched:
    """Processes started by a test (each in its own session), stopped at teardown: SIGTERM, then SIGKILL."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append((process, log))
        return process

    def wait_http(self, process: subprocess.Popen[bytes], url: str, timeout_s: float = 90) -> None:
        """Poll `url` until it answers 200; fail with the process log if it dies or never answers."""
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"{process.args} exited with {process.returncode}:\n{self.log_of(process)}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        pytest.fail(f"{url} did not answer 200 within {timeout_s} s:\n{self.log_of(process)}")

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        for known, log in self.processes:
            if known is process:
                return log.read_text(errors="replace")[-4000:]
        return ""

    def stop(self, process: subprocess.Popen[bytes], timeout_s: float = 15) -> int:
        """SIGTERM the process; SIGKILL its whole session (only what this test started) if it lingers."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return int(process.returncode)

    def stop_all(self) -> None:
        for process, _ in reversed(self.processes):
            self.stop(process)
            with contextlib.suppress(ProcessLookupError):  # a child left behind in the session
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[Launched]:
    processes = Launched(tmp_path)
    yield processes
    processes.stop_all()


def subprocess_env(**extra: str) -> dict[str, str]:
    """This environment with src/ on PYTHONPATH (the package may not be installed) and the extras given."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    env.pop("BONEFRAC_API_URL", None)
    env.pop("BONEFRAC_MODEL_PATH", None)
    env.update(extra)
    return env


def service_command(model: Path, port: int) -> list[str]:
    """`bonefrac serve` once the CLI has it, else uvicorn on the app factory (same settings from env)."""
    if importlib.util.find_spec("bonefrac.commands.serve") is not None:
        return [
            sys.executable,
            "-m",
            "bonefrac",
            "serve",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "bonefrac.serve.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


@pytest.fixture
def start_service(launched: Launched, tmp_path: Path):
    """Factory: start a real service process serving `model` on a free 127.0.0.1 port; returns its URL."""

    def start(model: Path) -> str:
        port = free_port()
        env = subprocess_env(
            BONEFRAC_MODEL_PATH=str(model),
            BONEFRAC_AUDIT_DB_URL=f"sqlite:///{tmp_path / f'audit-{port}.db'}",
            BONEFRAC_ENV="development",
            BONEFRAC_API_KEYS="",
        )
        process = launched.start(f"service-{port}", service_command(model, port), env)
        url = f"http://127.0.0.1:{port}"
        launched.wait_http(process, f"{url}/readyz")
        return url

    return start
