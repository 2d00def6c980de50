"""DICOM results tests need the dicom extra (dciodvfy, the validator, is a fixture of tests/conftest.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("highdicom", reason="DICOM results need the dicom extra: pip install 'bonefrac[dicom]'")
