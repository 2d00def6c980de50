import subprocess
import sys

import numpy as np
import pytest
from imaging_factories import build_dicom, encode_raster, gradient
from PIL import Image
from typer.testing import CliRunner

from bonefrac.cli import app

runner = CliRunner()


def test_image_inspect_prints_and_writes_what_the_model_sees(tmp_path):
    pytest.importorskip("pydicom")
    dicom = tmp_path / "hand.dcm"
    dicom.write_bytes(
        build_dicom(
            (gradient(20, 30) * 16).astype(np.uint16),
            bits_stored=12,
            photometric="MONOCHROME1",
            WindowCenter=2000,
            WindowWidth=4000,
            PixelSpacing=[0.1, 0.1],
        )
    )
    png = tmp_path / "wrist.png"
    png.write_bytes(encode_raster(Image.fromarray(gradient(10, 12).astype(np.uint8)), "PNG"))
    args = ["image", "inspect", str(dicom), str(png), "--out", str(tmp_path / "seen")]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "dicom" in result.output and "30 x 20" in result.output and "0.1 x 0.1" in result.output
    assert "window c=2000 w=4000 LINEAR" in result.output
    written = np.asarray(Image.open(tmp_path / "seen" / "hand.dcm.png"))
    assert written.shape == (20, 30, 3) and written[0, 0, 0] == 255  # MONOCHROME1: low values are white


def test_image_inspect_reports_refused_files_and_exits_2(tmp_path):
    good, bad = tmp_path / "good.png", tmp_path / "bad.jpg"
    good.write_bytes(encode_raster(Image.fromarray(gradient(10, 12).astype(np.uint8)), "PNG"))
    bad.write_bytes(b"plain text")
    proc = subprocess.run(
        [sys.executable, "-m", "bonefrac", "image", "inspect", str(good), str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "good.png" in proc.stdout and "bad.jpg: unrecognised content" in proc.stdout
    assert "1 of 2 file(s) refused" in proc.stderr
