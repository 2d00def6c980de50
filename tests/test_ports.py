"""A taken port is found before a server starts, and the message says who holds it and how to choose another:
the library check, `bonefrac serve`, `bonefrac ui` and `make run` (scripts/run.sh), each against a socket the
test binds."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bonefrac.ports import PortInUseError, describe_holder, ensure_port_free, port_is_free

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def held_port() -> Iterator[int]:
    """A port on 127.0.0.1 that a plain socket of this test listens on (it never answers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_port_is_free_until_someone_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        sock.listen()
        assert not port_is_free("127.0.0.1", port)
    assert port_is_free("127.0.0.1", port)


def test_taken_port_names_the_holder_and_a_free_port(held_port):
    with pytest.raises(PortInUseError) as caught:
        ensure_port_free("127.0.0.1", held_port, change="--port {port}")
    message = str(caught.value)
    assert f"port {held_port} on 127.0.0.1 is already in use by another program" in message
    suggested = int(message.rsplit("--port ", 1)[1])
    assert suggested > held_port and port_is_free("127.0.0.1", suggested)
    assert caught.value.exit_code == 2


def test_free_port_passes():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    ensure_port_free("127.0.0.1", port, change="--port {port}")


class _StreamlitLike(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        found = self.path == "/_stcore/health"
        self.send_response(200 if found else 404)
        self.end_headers()
        self.wfile.write(b"ok" if found else b"")

    def log_message(self, *args: object) -> None:
        pass


def test_a_streamlit_app_is_named_as_such():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StreamlitLike)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        assert describe_holder("127.0.0.1", port).startswith("a Streamlit app, perhaps another bonefrac UI")
    finally:
        server.shutdown()
        server.server_close()


def _env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BONEFRAC_") or k == "BONEFRAC_CACHE"}
    return {**clean, "PYTHONPATH": str(REPO / "src"), **extra}


@pytest.mark.parametrize(
    ("command", "variable"), [("serve", "BONEFRAC_PORT"), ("ui", "BONEFRAC_UI_PORT")], ids=["serve", "ui"]
)
def test_command_on_a_taken_port_says_so_at_once(tmp_path, held_port, command, variable):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bonefrac", command, "--port", str(held_port)],
        cwd=tmp_path,
        env=_env(BONEFRAC_DATA=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert f"port {held_port} on 127.0.0.1 is already in use by another program" in lines[0]
    assert "--port " in lines[0] and f"{variable}=" in lines[0]
    assert list(tmp_path.iterdir()) == []
    assert time.monotonic() - started < 60


def _fake_serve_venv(folder: Path) -> Path:
    """A serving environment for scripts/run.sh made of this interpreter with src/ on its path."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO / "src"}" exec "{sys.executable}" "$@"\n')
    bonefrac = bin_dir / "bonefrac"
    bonefrac.write_text(f'#!/bin/sh\nexec "{python}" -m bonefrac "$@"\n')
    for script in (python, bonefrac):
        script.chmod(0o755)
    (folder / ".installed").touch()
    return folder


@pytest.mark.parametrize("which", ["BONEFRAC_PORT", "BONEFRAC_UI_PORT"])
def test_make_run_on_a_taken_port_stops_before_starting_anything(tmp_path, held_port, which):
    venv = _fake_serve_venv(tmp_path / "venv")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        other = int(sock.getsockname()[1])
    ports = {"BONEFRAC_PORT": str(other), "BONEFRAC_UI_PORT": str(other)} | {which: str(held_port)}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "run.sh")],
        env=_env(BONEFRAC_SERVE_VENV=str(venv), **ports),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert f"port {held_port} on 127.0.0.1 is already in use by another program" in proc.stderr
    assert f"{which}=" in proc.stderr.splitlines()[-1]
    assert "service:" not in proc.stdout and "started" not in proc.stdout
