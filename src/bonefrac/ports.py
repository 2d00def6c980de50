"""Is a TCP port free to listen on, and if not, who holds it: said before a server starts, in plain words.

    ensure_port_free("127.0.0.1", 8000, change="--port {port} (make run: BONEFRAC_PORT={port})")

Standard library only (the check runs before uvicorn or streamlit is imported).
"""

from __future__ import annotations

import errno
import json
import socket
import urllib.error
import urllib.request

from bonefrac.errors import ConfigError

PROBE_TIMEOUT_S = 1.0


class PortInUseError(ConfigError):
    """The port a server should listen on is taken; the message says by whom and how to choose another."""


def port_is_free(host: str, port: int) -> bool:
    """True when a server could listen on host:port now (bound as uvicorn binds: with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return True


def next_free_port(host: str, port: int, tries: int = 50) -> int | None:
    """The first free port above `port` (within `tries`), to suggest one."""
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        if port_is_free(host, candidate):
            return candidate
    return None


def _get(url: str) -> tuple[int, bytes] | None:
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as response:
            return int(response.status), response.read(2_000_000)
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""
    except (OSError, ValueError):
        return None


def describe_holder(host: str, port: int) -> str:
    """Who listens on host:port: another bonefrac service, a Streamlit app (a bonefrac UI), or another
    program, found by asking it over HTTP (one short request each)."""
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    base = f"http://{probe_host}:{port}"
    answer = _get(f"{base}/openapi.json")
    if answer is not None and answer[0] == 200:
        try:
            title = json.loads(answer[1] or b"{}").get("info", {}).get("title")
        except (ValueError, AttributeError):
            title = None
        if title == "bonefrac":
            return f"another bonefrac service ({base}/docs)"
    health = _get(f"{base}/_stcore/health")
    if health is not None and health[0] == 200:
        return f"a Streamlit app, perhaps another bonefrac UI ({base})"
    return "another program"


def ensure_port_free(host: str, port: int, *, change: str) -> None:
    """Raise PortInUseError when host:port is taken, naming the holder and how to choose another port
    (`change`, e.g. "--port {port} (make run: BONEFRAC_PORT={port})", filled with a free port)."""
    if port_is_free(host, port):
        return
    holder = describe_holder(host, port)
    spare = next_free_port(host, port)
    suggestion = change.format(port=spare if spare is not None else "N")
    raise PortInUseError(
        f"port {port} on {host} is already in use by {holder}; stop it, or choose another port with "
        f"{suggestion}"
    )
