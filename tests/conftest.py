"""Shared fixtures: a tiny synthetic YOLO data set, the FracAtlas path (skips when absent), no network."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FRACATLAS = Path(os.environ.get("BONEFRAC_FRACATLAS", REPO_ROOT.parent / "shared" / "data" / "fracatlas"))

# Tool state (ultralytics config dir, fonts) in an ignored folder of the checkout, never in $HOME.
os.environ.setdefault("BONEFRAC_CACHE", str(REPO_ROOT / ".cache" / "bonefrac"))
os.environ.setdefault("MPLBACKEND", "Agg")

_real_connect = socket.socket.connect


def _loopback_only_connect(self: socket.socket, address, *args, **kwargs):  # type: ignore[no-untyped-def]
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and (host.startswith("127.") or host in ("localhost", "::1", ""))
        or (self.family == socket.AF_UNIX)
    ):
        return _real_connect(self, address, *args, **kwargs)
    raise RuntimeError(f"network access attempted during tests: {address!r} (only loopback is allowed)")


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    """Any connection outside loopback fails loudly: nothing may be downloaded at run time."""
    socket.socket.connect = _loopback_only_connect  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data.yaml of a 30-image synthetic data set (128 px), shared by the session; do not modify it."""
    from bonefrac.data.synth import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("synth"), images=30, seed=0, size=128).yaml_path


@pytest.fixture
def fracatlas_yaml() -> Path:
    """../shared/data/fracatlas/data.yaml, or skip with the reason."""
    path = FRACATLAS / "data.yaml"
    if not path.is_file():
        pytest.skip(
            f"FracAtlas not found at {FRACATLAS} (set BONEFRAC_FRACATLAS or place shared/ beside the repo)"
        )
    return path
