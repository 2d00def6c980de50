"""The PACS tests run against a real Orthanc; they skip, saying why, where it or the dicom extra is absent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "pynetdicom", reason="the DICOM node needs the dicom extra: pip install 'bonefrac[dicom]'"
)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dicom_out"))  # dicom_sources, the DX factory

from orthanc_server import Orthanc, free_port, missing_reason  # noqa: E402


@pytest.fixture
def orthanc_factory(tmp_path):
    """Start an Orthanc that knows the given modalities; stopped after the test."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    started: list[Orthanc] = []

    def start(modalities: dict[str, tuple[str, int]], users: dict[str, str] | None = None) -> Orthanc:
        server = Orthanc(tmp_path / f"orthanc{len(started)}", free_port(), free_port(), users=users)
        server.folder.mkdir()
        started.append(server)
        server.start(modalities)
        return server

    yield start
    for server in started:
        server.stop()
