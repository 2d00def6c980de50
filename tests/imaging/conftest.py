"""Fixtures for imaging tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from imaging_factories import build_dicom


@pytest.fixture
def make_dicom() -> Callable[..., bytes]:
    """build_dicom, skipping the test where pydicom is not installed."""
    pytest.importorskip("pydicom")
    return build_dicom
