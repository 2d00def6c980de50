"""Fixtures for the engine tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from infer_factories import build_constant_onnx


@pytest.fixture
def constant_model(tmp_path: Path) -> Callable[..., Path]:
    """Factory: constant_model(head, size=64, names=None, folder=None) -> a constant-head ONNX model."""
    pytest.importorskip("onnx")

    def make(head: np.ndarray, *, size: int = 64, names=None, folder: Path | None = None, **kw) -> Path:
        out = folder or tmp_path / f"model_{size}_{abs(hash(head.tobytes())) % 10**8}"
        out.mkdir(parents=True, exist_ok=True)
        return build_constant_onnx(out / "model.onnx", head, size=size, names=names, **kw)

    return make
