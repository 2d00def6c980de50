"""A real `bonefrac serve` on a free loopback port, for tests that attack it over raw sockets and HTTP."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "deploy" / "model" / "model.onnx"
PROBE_KEY = "probe-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(tmp: Path, **settings: str) -> dict[str, str]:
    """The test's environment without BONEFRAC_* settings, a private HOME and TMPDIR, our source first."""
    home, tmpdir = tmp / "home", tmp / "tmpdir"
    home.mkdir(exist_ok=True)
    tmpdir.mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BONEFRAC_", "ORT_"))}
    return {
        **clean,
        "PYTHONPATH": os.environ.get("PYTHONPATH") or str(REPO / "src"),
        "HOME": str(home),
        "TMPDIR": str(tmpdir),
        "BONEFRAC_AUDIT_DB_URL": f"sqlite:///{tmp / 'audit.db'}",
        **settings,
    }


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    tmp: Path
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def audit_rows(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.tmp / "audit.db") as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("select * from audit_log order by id")]

    def connect(self, timeout: float = 10) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def alive(self) -> bool:
        try:
            return httpx.get(self.base + "/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 20) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_server(
    tmp: Path, command: list[str] | None = None, ready: bool = True, timeout: float = 120, **settings: str
) -> LiveServer:
    """Start `bonefrac serve` over the shipped model (or `command` + --port) and wait until /readyz is 200."""
    port = free_port()
    log_path = tmp / "server.log"
    args = command or [sys.executable, "-m", "bonefrac", "serve", "--model", str(SHIPPED_MODEL)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*args, "--port", str(port)],
            env=server_env(tmp, **settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, port, tmp, log_path)
    deadline = time.monotonic() + timeout
    path = "/readyz" if ready else "/healthz"
    while True:
        try:
            if httpx.get(server.base + path, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("server did not get ready:\n" + server.log_text())
        time.sleep(0.1)


def raw_exchange(server: LiveServer, head: bytes, body: bytes = b"", wait: float = 5) -> bytes:
    """Send `head` (and `body`) on a fresh connection; return what the server answered until it closed or
    `wait` seconds passed (b"" when it closed without a word)."""
    with server.connect() as sock:
        try:
            sock.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_answer(sock, wait)


def read_answer(sock: socket.socket, wait: float) -> bytes:
    answer = b""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        answer += chunk
    return answer


def status_of(answer: bytes) -> int | None:
    """The status code of a raw HTTP answer, None when there was none."""
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])
