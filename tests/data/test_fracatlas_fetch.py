"""`bonefrac data fetch fracatlas`: from a figshare-like local server, from a manual archive, and offline."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fracatlas_archive import EXPECTED_SPLIT, build_release_zip, serve_figshare
from typer.testing import CliRunner

from bonefrac.cli import app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_release_zip(tmp_path_factory.mktemp("release") / "FracAtlas.zip")


def test_fetch_downloads_checks_and_lays_out(release, tmp_path):
    out = tmp_path / "fracatlas"
    with serve_figshare(release) as server:
        result = CliRunner().invoke(
            app, ["data", "fetch", "fracatlas", "--out", str(out), "--figshare-api", f"{server.base}/v2"]
        )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "size and md5 match the figshare record" in said and "train 4 (2 fractured)" in said
    assert {p.name: p.parent.name for p in (out / "images").glob("*/*.jpg")} == EXPECTED_SPLIT
    record = json.loads((out / "fracatlas.json").read_text())
    assert (
        record["source"]["md5"]
        and record["source"]["record"] == "https://doi.org/10.6084/m9.figshare.22363012"
    )
    assert (out / ".download" / "FracAtlas.zip").read_bytes() == release.read_bytes()


def test_fetch_from_a_manual_archive_needs_no_network(release, tmp_path):
    out = tmp_path / "fracatlas"
    arguments = ["data", "fetch", "fracatlas", "--out", str(out), "--archive", str(release)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "compare the md5 with the figshare record's" in " ".join(result.output.split())
    assert (out / "data.yaml").is_file() and not (out / ".download").exists()


def test_offline_fetch_says_it_needs_the_network_and_where_a_manual_download_goes(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bonefrac",
            "data",
            "fetch",
            "fracatlas",
            "--out",
            str(tmp_path / "fa"),
            "--figshare-api",
            f"http://127.0.0.1:{port}/v2",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    assert message.startswith("error: fetching FracAtlas needs the network")
    assert "https://doi.org/10.6084/m9.figshare.22363012" in message
    assert f"--archive path/to/FracAtlas.zip --out {tmp_path / 'fa'}" in message
    assert not (tmp_path / "fa").exists()
