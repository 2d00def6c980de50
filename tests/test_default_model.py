"""`bonefrac predict` and `bonefrac serve` use the shipped model unless told otherwise, say which, and write
nothing into the working folder: the audit database goes to the data folder. A second service on the same port
is told that another bonefrac holds it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bonefrac.paths import SHIPPED_MODEL

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="this checkout has no shipped model")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BONEFRAC_") or k == "BONEFRAC_CACHE"}
    return {**clean, "PYTHONPATH": str(REPO / "src"), "BONEFRAC_DATA": str(tmp_path / "data"), **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _synthetic_png(path: Path) -> Path:
    import numpy as np
    from PIL import Image

    from bonefrac.data.synth import render_radiograph

    gray, _ = render_radiograph(np.random.default_rng(3), 256, fractures=1)
    Image.fromarray(gray).save(path)
    return path


def test_predict_uses_the_shipped_model_and_says_so(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    image = _synthetic_png(tmp_path / "scan.png")
    proc = subprocess.run(
        [sys.executable, "-m", "bonefrac", "predict", str(image), "--out", str(tmp_path / "out")],
        cwd=work,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"model file: {SHIPPED_MODEL} (the shipped model;" in " ".join(proc.stdout.split())
    document = json.loads((tmp_path / "out" / "scan.json").read_text())
    card = json.loads((SHIPPED_MODEL.parent / "model_card.json").read_text())
    assert document["model"]["name"] == card["name"]
    assert list(work.iterdir()) == [] and not (tmp_path / "data").exists()


def test_refused_serve_start_leaves_nothing_behind(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "bonefrac", "serve", "--port", str(_free_port())],
        cwd=work,
        env=_env(tmp_path, BONEFRAC_ENV="production"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "requires API keys" in proc.stderr
    assert list(work.iterdir()) == [] and not (tmp_path / "data").exists()


def test_serve_uses_the_shipped_model_and_keeps_its_audit_in_the_data_folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bonefrac", "serve", "--port", str(port)],
        cwd=work,
        env=_env(tmp_path, BONEFRAC_LOG_JSON="false"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            alive = process.poll() is None and time.monotonic() < deadline
            assert alive, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        card = httpx.get(f"http://127.0.0.1:{port}/v1/model", timeout=5).json()["card"]
        assert card["name"] == json.loads((SHIPPED_MODEL.parent / "model_card.json").read_text())["name"]
        second = subprocess.run(
            [sys.executable, "-m", "bonefrac", "serve", "--port", str(port)],
            cwd=work,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2
        assert f"port {port} on 127.0.0.1 is already in use by another bonefrac service" in second.stderr
    finally:
        process.terminate()
        process.wait(30)
        log.close()
    said = " ".join((tmp_path / "serve.log").read_text().split())
    assert f"model file: {SHIPPED_MODEL} (the shipped model;" in said
    assert (tmp_path / "data" / "audit.db").is_file()
    assert list(work.iterdir()) == []
