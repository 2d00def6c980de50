"""DICOM results tests need the dicom extra; dciodvfy (Debian dicom3tools) is used where installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("highdicom", reason="DICOM results need the dicom extra: pip install 'bonefrac[dicom]'")


@pytest.fixture(scope="session")
def dciodvfy():
    """Run dciodvfy on a file; return its error lines (warnings are allowed). Skips where it is missing."""
    executable = shutil.which("dciodvfy")
    if executable is None:
        pytest.skip("dciodvfy (Debian dicom3tools) is not installed; `make test` installs it as root")

    def errors(path: Path) -> list[str]:
        run = subprocess.run([executable, str(path)], capture_output=True, text=True, timeout=60)
        return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]

    return errors
