"""Fixtures for the container stage: podman prerequisites, images built on the local base, a compose stack."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from podman_support import (
    MODEL_STAGE,
    PODMAN_DIR,
    REPO_ROOT,
    SHIPPED_MODEL_DIR,
    STAGE_REPORT,
    BuiltImages,
    Stack,
    free_port,
    run_script,
    skip_or_fail,
    tool_env,
)

from bonefrac.infer.int8_choice import detector_file


@pytest.fixture(scope="session")
def podman_ready() -> dict[str, str]:
    """podman, runc, podman-compose and hadolint installed (idempotently); skip only where impossible."""
    env = tool_env()
    result = subprocess.run(
        ["bash", str(PODMAN_DIR / "install-prereqs.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if result.returncode == 3:
        skip_or_fail(f"podman cannot be installed here: {result.stderr.strip().splitlines()[-1]}")
    if result.returncode != 0:
        pytest.fail(f"install-prereqs.sh exited {result.returncode}:\n{result.stderr[-4000:]}")
    return env


@pytest.fixture(scope="session")
def built_images(podman_ready: dict[str, str], tiny_onnx_model: Path) -> BuiltImages:
    """The local base (built once, cached) and the api + ui images, with the shipped default model baked in
    (deploy/model; the tiny ONNX model only in a checkout without it)."""
    env = dict(podman_ready)
    started = time.monotonic()
    run_script("base-image.sh", env=env)
    base_s = time.monotonic() - started

    if MODEL_STAGE.exists():
        shutil.rmtree(MODEL_STAGE)
    if (SHIPPED_MODEL_DIR / "model.onnx").is_file():
        shutil.copytree(SHIPPED_MODEL_DIR, MODEL_STAGE)
    else:
        MODEL_STAGE.mkdir(parents=True)
        shutil.copyfile(tiny_onnx_model, MODEL_STAGE / "model.onnx")
    # A fixed tag: the next run reuses podman's layer cache and replaces these images.
    tag = "ci"
    env.update(
        BONEFRAC_MODEL_DIR=str(MODEL_STAGE.relative_to(REPO_ROOT)),
        BONEFRAC_IMAGE_TAG=tag,
        BONEFRAC_API_IMAGE=f"localhost/bonefrac-api:{tag}",
        BONEFRAC_UI_IMAGE=f"localhost/bonefrac-ui:{tag}",
        BONEFRAC_PROXY_IMAGE=f"localhost/bonefrac-proxy:{tag}",
    )
    started = time.monotonic()
    out = run_script("build-images.sh", "api", "ui", "proxy", env=env)
    build_s = time.monotonic() - started
    sizes = {}
    for line in out.strip().splitlines():
        name, size, _seconds = line.split("\t")
        sizes[name] = int(size.split()[0])
    STAGE_REPORT.parent.mkdir(parents=True, exist_ok=True)
    STAGE_REPORT.write_text(
        json.dumps({"base_s": round(base_s, 1), "build_s": round(build_s, 1), "sizes_mb": sizes}, indent=2)
    )
    return BuiltImages(
        api=env["BONEFRAC_API_IMAGE"],
        ui=env["BONEFRAC_UI_IMAGE"],
        proxy=env["BONEFRAC_PROXY_IMAGE"],
        # the image prefers the int8 copy its card ships (BONEFRAC_PREFER_INT8=1)
        model_sha256=hashlib.sha256(
            detector_file(MODEL_STAGE / "model.onnx", prefer_int8=True)[0].read_bytes()
        ).hexdigest(),
        sizes_mb=sizes,
        env=env,
    )


@pytest.fixture(scope="session")
def compose_stack(built_images: BuiltImages) -> Iterator[Stack]:
    """api (behind its nginx proxy) + ui started by podman-compose on 127.0.0.1 (free ports); torn down even
    when a test fails. `api_url` is the proxy's: every probe goes through it."""
    env = dict(built_images.env)
    api_port, ui_port = free_port(), free_port()
    project = f"bonefrac-test-{os.getpid()}"
    env.update(
        BONEFRAC_COMPOSE_PROJECT=project,
        BONEFRAC_API_PORT=str(api_port),
        BONEFRAC_UI_PORT=str(ui_port),
        BONEFRAC_BIND="127.0.0.1",
    )
    try:
        run_script("stack.sh", "up", env=env, timeout=600)
        yield Stack(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}", project, built_images)
    finally:
        logs = subprocess.run(
            ["bash", str(PODMAN_DIR / "stack.sh"), "logs"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        (REPO_ROOT / "build").mkdir(exist_ok=True)
        (REPO_ROOT / "build" / "container-logs.txt").write_text(logs.stdout + logs.stderr)
        subprocess.run(["bash", str(PODMAN_DIR / "stack.sh"), "down"], env=env, timeout=300, check=False)


@pytest.fixture
def host_postgres() -> Iterator[tuple[str, list[str]]]:
    """A throw-away PostgreSQL server on 127.0.0.1 (Debian's postgresql binaries): (URL, psql command)."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not binaries:
        skip_or_fail("PostgreSQL server binaries not found (Debian package postgresql)")
    bindir = binaries[-1].parent
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="bonefrac-pg-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()

    def pg(*args: str) -> None:
        result = subprocess.run([*as_postgres, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(args[:2])} failed: {result.stderr[-2000:]}")

    pg(str(bindir / "initdb"), "-D", str(data), "-U", "bonefrac", "-A", "trust")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    pg(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(data / "log.txt"), "-w", "start")
    try:
        pg(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "bonefrac", "bonefrac")
        psql = [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "bonefrac", "-d", "bonefrac"]
        yield f"postgresql+psycopg://bonefrac@127.0.0.1:{port}/bonefrac", psql
    finally:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)
