"""Helpers for the container stage tests: run the deploy/podman scripts, pick ports, wait for HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FRACATLAS_DIR = Path(os.environ.get("BONEFRAC_FRACATLAS", REPO_ROOT.parent / "shared" / "data" / "fracatlas"))
PODMAN_DIR = REPO_ROOT / "deploy" / "podman"
# Inside the build context (see .dockerignore), ignored by git.
MODEL_STAGE = REPO_ROOT / "build" / "container-model"
SHIPPED_MODEL_DIR = REPO_ROOT / "deploy" / "model"
STAGE_REPORT = REPO_ROOT / "build" / "container-stage.json"
READY_TIMEOUT_S = 240.0


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip with the reason on a developer machine; in CI (CI=true) the container stage must run: fail."""
    if in_ci():
        pytest.fail(f"container stage cannot run in CI: {reason}")
    pytest.skip(reason)


def tool_env() -> dict[str, str]:
    """The scripts' environment: this python's bin dir first (podman-compose, hadolint: the dev extra)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHON"] = sys.executable
    env.setdefault("CONTAINERS_CONF", str(PODMAN_DIR / "containers.conf"))
    return env


def podman(*args: str, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`podman ARGS` with the project's containers.conf, output captured as text."""
    return subprocess.run(
        ["podman", *args], env=tool_env(), capture_output=True, text=True, check=check, timeout=timeout
    )


def run_script(name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> str:
    """Run deploy/podman/<name>; on failure, fail the test with the script's output tail."""
    result = subprocess.run(
        ["bash", str(PODMAN_DIR / name), *args],
        cwd=REPO_ROOT,
        env=env or tool_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{name} {' '.join(args)} exited {result.returncode}\n--- stderr (tail) ---\n"
            f"{result.stderr[-6000:]}\n--- stdout (tail) ---\n{result.stdout[-2000:]}"
        )
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll url until it answers 200 (the compose runner does not wait for health: clients retry)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(2)
    raise AssertionError(f"{url} not ready within {timeout_s:.0f} s (last: {last})")


@dataclass(frozen=True)
class BuiltImages:
    api: str
    ui: str
    proxy: str
    model_sha256: str
    sizes_mb: dict[str, int]
    env: dict[str, str]


@dataclass(frozen=True)
class Stack:
    api_url: str
    ui_url: str
    project: str
    images: BuiltImages
