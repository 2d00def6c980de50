"""Fixtures of the demo tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_helpers import write_fake_fracatlas


@pytest.fixture
def fake_fracatlas(tmp_path: Path) -> Path:
    """A FracAtlas look-alike under tmp_path (see demo_helpers.ROWS)."""
    return write_fake_fracatlas(tmp_path / "fracatlas")
