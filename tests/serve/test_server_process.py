"""The real server: `bonefrac serve` in a subprocess (uvicorn on 127.0.0.1, a free port), over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tiny_onnx_model, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "BONEFRAC_AUDIT_DB_URL": f"sqlite:///{tmp_path / 'audit.db'}",
        "BONEFRAC_MAX_UPLOAD_BYTES": "200000",
        "BONEFRAC_SHUTDOWN_GRACE_S": "20",
    }
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bonefrac", "serve", "--model", str(tiny_onnx_model), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("server did not get ready:\n" + (tmp_path / "server.log").read_text())
        time.sleep(0.1)
    yield {"base": base, "port": port, "process": process, "tmp": tmp_path}
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    log.close()


def test_server_answers_over_http(server, samples):
    base = server["base"]
    ok = httpx.post(base + "/v1/detect", files={"file": ("a.dcm", samples.dicom())}, timeout=10)
    assert ok.status_code == 200 and ok.json()["image"]["pixel_spacing_mm"] == [0.2, 0.25]
    bad = httpx.post(base + "/v1/detect", files={"file": b"GIF89a....."}, timeout=10)
    assert bad.status_code == 422 and "GIF" in bad.json()["error"]["message"]
    assert httpx.get(base + "/v1/model").json()["card"]["input_size"] == 64
    assert "bonefrac_requests_total" in httpx.get(base + "/metrics").text
    assert httpx.get(base + "/openapi.json").json()["info"]["title"] == "bonefrac"


def test_server_stops_reading_an_oversize_streamed_upload(server):
    """Chunked upload without Content-Length: the 413 arrives while we are still sending."""
    sock = socket.create_connection(("127.0.0.1", server["port"]), timeout=10)
    head = (
        "POST /v1/detect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: multipart/form-data; boundary=bb\r\n\r\n"
    )
    sock.sendall(head.encode())
    part = b'--bb\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
    sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    sent, chunk, answer = 0, b"\x00" * 16384, b""
    sock.settimeout(0.05)
    deadline = time.monotonic() + 60
    while sent < 50_000_000 and not answer and time.monotonic() < deadline:
        try:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        except (TimeoutError, BlockingIOError):
            pass  # the server stopped reading: look for its answer
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            answer += sock.recv(65536)
        except (TimeoutError, BlockingIOError):
            pass
        except ConnectionResetError:
            break
    sock.settimeout(5)
    try:
        answer += sock.recv(65536)
    except (TimeoutError, ConnectionResetError):
        pass
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"upload_too_large" in answer
    assert sent < 2_000_000  # stopped long before the 50 MB we were ready to send


def test_server_graceful_stop_mid_load_loses_no_audit_row(server, samples):
    base, process = server["base"], server["process"]
    answered: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def client_loop() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    response = client.post(base + "/v1/detect", files={"file": samples.png((320, 240))})
                except httpx.TransportError:
                    return  # the server has closed: no answer, so nothing to audit from us
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                answered.append(response.headers["X-Request-ID"])

    threads = [threading.Thread(target=client_loop) for _ in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(answered) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert process.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean stop
    assert failures == [] and len(answered) >= 20
    with sqlite3.connect(server["tmp"] / "audit.db") as db:
        audited = {
            row[0] for row in db.execute("select request_id from audit_log where route = '/v1/detect'")
        }
    assert set(answered) <= audited  # every answer the clients got is in the audit log
    log_lines = (server["tmp"] / "server.log").read_text().splitlines()
    records = [json.loads(line) for line in log_lines if line.startswith("{")]
    access = [r for r in records if r["logger"] == "bonefrac.serve.access"]
    assert {r["request_id"] for r in access} >= set(answered)
    assert any(r["message"] == "service stopped" for r in records)
    assert all(len(line) < 2000 for line in log_lines)  # no pixel data in the logs
