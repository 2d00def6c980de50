"""Fixtures for the engine tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from infer_factories import build_constant_onnx
from s3_objects import point_at


@pytest.fixture
def constant_model(tmp_path: Path) -> Callable[..., Path]:
    """Factory: constant_model(head, size=64, names=None, folder=None) -> a constant-head ONNX model."""
    pytest.importorskip("onnx")

    def make(head: np.ndarray, *, size: int = 64, names=None, folder: Path | None = None, **kw) -> Path:
        out = folder or tmp_path / f"model_{size}_{abs(hash(head.tobytes())) % 10**8}"
        out.mkdir(parents=True, exist_ok=True)
        return build_constant_onnx(out / "model.onnx", head, size=size, names=names, **kw)

    return make


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto) on a free loopback port, for the session; its URL."""
    pytest.importorskip("pyarrow.fs")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This test's environment points at the moto server; the variables set, returned."""
    return point_at(monkeypatch, s3_endpoint)

