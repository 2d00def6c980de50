"""Offline checks of the deployment files: requirement lists, compose, Dockerfiles, Bicep, workflow, scripts.

Fast (part of `make test-fast`); the images themselves are built and run in test_containers.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
_spec = importlib.util.spec_from_file_location("pyproject_requirements", DEPLOY / "pyproject_requirements.py")
assert _spec is not None and _spec.loader is not None
pyproject_requirements = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pyproject_requirements)

DOCKERFILES = sorted(DEPLOY.glob("Dockerfile.*"))
SCRIPTS = sorted([*DEPLOY.glob("podman/*.sh"), *DEPLOY.glob("azure/*.sh")])


def _names(requirements: list[str]) -> set[str]:
    return {pyproject_requirements.requirement_name(line) for line in requirements}


@pytest.mark.parametrize(
    ("requirement", "name"),
    [
        ("uvicorn[standard]>=0.27", "uvicorn"),
        ("Pillow>=10.0", "pillow"),
        ("python_multipart", "python-multipart"),
    ],
)
def test_requirement_name_normalises(requirement: str, name: str) -> None:
    assert pyproject_requirements.requirement_name(requirement) == name


def test_api_requirements_have_engine_and_no_torch_or_streamlit() -> None:
    names = _names(
        pyproject_requirements.collect(REPO_ROOT / "pyproject.toml", ["serve", "postgres"], {"streamlit"})
    )
    assert {"onnxruntime", "fastapi", "uvicorn", "numpy", "pillow", "psycopg"} <= names
    assert not names & {"torch", "torchvision", "ultralytics", "streamlit"}


def test_requirements_expand_self_referencing_extras(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "demo"\ndependencies = ["numpy"]\n'
        '[project.optional-dependencies]\napi = ["fastapi"]\nui = ["streamlit"]\nall = ["demo[api,ui]"]\n'
    )
    assert pyproject_requirements.collect(pyproject, ["all"], set()) == ["numpy", "fastapi", "streamlit"]
    assert pyproject_requirements.collect(pyproject, ["all"], {"Streamlit"}) == ["numpy", "fastapi"]


def test_requirements_unknown_extra_names_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code = pyproject_requirements.main(["--pyproject", str(REPO_ROOT / "pyproject.toml"), "--extras", "srve"])
    assert code == 2
    err = capsys.readouterr().err
    assert "srve" in err and "serve" in err


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_dockerfile_takes_base_image_and_runs_unprivileged(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    first_from = text.index("\nFROM ")
    base_arg = re.search(r"^ARG BASE_IMAGE=(\S+)$", text[:first_from], re.M)
    assert base_arg and base_arg.group(1).startswith("docker.io/"), (
        "BASE_IMAGE must default to an official image"
    )
    assert all(line.startswith("FROM ${BASE_IMAGE}") for line in re.findall(r"^FROM .*$", text, re.M))
    assert re.search(r"^USER 10001", text, re.M), "images run as the non-root uid 10001"
    assert "/usr/local/bin/python" not in text, (
        "use python3 from PATH: the local Debian base has no /usr/local"
    )


def test_api_dockerfile_is_multi_stage_with_readyz_healthcheck_and_baked_model() -> None:
    text = (DEPLOY / "Dockerfile.api").read_text()
    assert text.count("\nFROM ") == 2 and "COPY --from=build /opt/venv /opt/venv" in text
    assert re.search(r"HEALTHCHECK .*\n.*/readyz", text)
    assert (
        "ARG MODEL_DIR=deploy/model" in text and "BONEFRAC_MODEL_PATH=/opt/bonefrac/model/model.onnx" in text
    )


def test_dockerignore_keeps_context_small_but_lets_the_sources_in() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*"
    assert {"!src/", "!pyproject.toml", "!deploy/model/", "!deploy/pyproject_requirements.py"} <= set(lines)


def test_ui_image_makes_synthetic_demo_images_and_the_context_carries_no_image_file() -> None:
    text = (DEPLOY / "Dockerfile.ui").read_text()
    assert "ARG DEMO=synthetic" in text
    assert "bonefrac data demo --synthetic --out /opt/bonefrac/demo" in text
    assert "COPY --from=build /opt/bonefrac/demo /opt/bonefrac/demo" in text
    assert all("demo" not in line for line in re.findall(r"^COPY (?!--from=).*$", text, re.M))
    lines = (REPO_ROOT / ".dockerignore").read_text().split()
    image_rules = {
        "**/*.jpg",
        "**/*.jpeg",
        "**/*.png",
        "**/*.dcm",
        "**/*.tif",
        "**/*.tiff",
        "**/*.bmp",
        "**/*.webp",
    }
    assert image_rules <= set(lines)
    last_allow = max(i for i, line in enumerate(lines) if line.startswith("!"))
    assert all(lines.index(rule) > last_allow for rule in image_rules), "the exclusions must come last to win"


def test_compose_services_are_limited_hardened_and_wired_by_service_name() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("api", "proxy", "ui"):
        service = services[name]
        assert service["restart"] == "unless-stopped"
        assert service["read_only"] is True and service["healthcheck"]["test"]
        assert service["mem_limit"] and service["cpus"]
        assert all(port.startswith("${BONEFRAC_BIND:-127.0.0.1}:") for port in service.get("ports", []))
    assert "ports" not in services["api"]  # clients reach the API through its proxy only
    assert services["proxy"]["ports"] == ["${BONEFRAC_BIND:-127.0.0.1}:${BONEFRAC_API_PORT:-8000}:8080"]
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["ui"]["environment"]["BONEFRAC_API_URL"] == "http://api:8000"
    assert services["ui"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["postgres"]["profiles"] == ["postgres"]


def test_the_proxy_limits_are_the_service_defaults() -> None:
    from bonefrac.serve.settings import ServeSettings

    defaults = ServeSettings()
    proxy = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["proxy"]["environment"]
    assert proxy["BONEFRAC_UPSTREAM"] == "api:8000"

    def overridable(name: str, value: float) -> str:
        return "${" + f"{name}:-{value:.15g}" + "}"

    expected = {
        "BONEFRAC_MAX_UPLOAD_BYTES": overridable("BONEFRAC_MAX_UPLOAD_BYTES", defaults.max_upload_bytes),
        "BONEFRAC_MAX_HEADER_BYTES": f"{defaults.max_header_bytes // 1024}k",
        "BONEFRAC_HEADER_TIMEOUT_S": overridable("BONEFRAC_HEADER_TIMEOUT_S", defaults.header_timeout_s),
        "BONEFRAC_BODY_TIMEOUT_S": overridable("BONEFRAC_BODY_TIMEOUT_S", defaults.body_timeout_s),
    }
    assert {name: proxy[name] for name in expected} == expected
    render = (DEPLOY / "nginx" / "render.sh").read_text()  # the image's own defaults, when run alone
    for name, value in expected.items():
        plain = value.split(":-")[-1].rstrip("}")  # the default inside compose's ${NAME:-default}
        assert f': "${{{name}:={plain}}}"' in render, name


def _bicep() -> dict:
    from pycep import BicepParser

    return BicepParser().parse(file_path=DEPLOY / "azure" / "main.bicep")


def test_bicep_parses_and_declares_the_container_apps() -> None:
    parsed = _bicep()
    assert {"registry", "pullIdentity", "acrPull", "environment", "api", "ui"} <= set(parsed["resources"])
    assert {"apiUrl", "uiUrl"} <= set(parsed["outputs"])


def test_bicep_pulls_with_managed_identity_keeps_keys_secret_and_probes_health() -> None:
    text = (DEPLOY / "azure" / "main.bicep").read_text()
    assert "7f951dda-4ed3-4680-a7ca-43fe172d538d" in text, "AcrPull role definition id"
    assert "adminUserEnabled" not in text and "passwordSecretRef" not in text, "no registry admin credentials"
    assert re.search(r"@secure\(\)\s*\nparam apiKeys string", text)
    assert "secretRef: 'api-keys'" in text
    for path in ("/healthz", "/readyz"):
        assert f"path: '{path}'" in text
    assert "concurrentRequests" in text
    # ingress reaches the API through the nginx sidecar, which passes requests on inside the replica
    assert "name: 'proxy'" in text and "targetPort: 8080" in text and "value: '127.0.0.1:8000'" in text


def test_bicep_parser_rejects_broken_bicep(tmp_path: Path) -> None:
    from pycep import BicepParser

    broken = tmp_path / "broken.bicep"
    broken.write_text("param x string = \nresource r 'Microsoft.App/containerApps@2024-03-01' = {\n")
    with pytest.raises(Exception):  # noqa: B017 - pycep raises lark's errors, whichever fits
        BicepParser().parse(file_path=broken)


def test_workflow_has_lint_typecheck_tests_images_and_tag_push() -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    assert {"lint", "test", "containers", "images"} <= set(jobs)
    steps = json.dumps(jobs)
    assert "ruff check" in steps and "mypy" in steps and "pytest" in steps and "hadolint" in steps
    assert "type=gha" in steps and "refs/tags/v" in steps
    tags = workflow[True]["push"]["tags"] if True in workflow else workflow["on"]["push"]["tags"]
    assert tags == ["v*"]


def test_type_check_is_blocking_in_ci_and_make() -> None:
    """mypy fails CI on GitHub and in `make test` (`.ci/run`): no continue-on-error, no `|| true`."""
    jobs = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    mypy_steps = [s for job in jobs.values() for s in job["steps"] if "mypy src/bonefrac" in s.get("run", "")]
    assert mypy_steps, "no mypy step in ci.yml"
    for step in mypy_steps:
        assert not step.get("continue-on-error") and "|| true" not in step["run"]
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "TYPECHECK := $(PY) -m mypy src/bonefrac" in makefile and "|| true" not in makefile
    for target in ("test", "test-fast", "lint"):
        recipe = makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]
        assert "$(TYPECHECK)" in recipe, f"make {target} does not run the type check"


@pytest.mark.parametrize(
    ("path", "schema"),
    [(".github/workflows/ci.yml", "vendor.github-workflows"), ("deploy/compose.yaml", "vendor.compose-spec")],
)
def test_file_matches_its_published_schema(path: str, schema: str) -> None:
    """check-jsonschema ships these schemas (SchemaStore's workflow schema, the Compose spec): no download."""
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(REPO_ROOT / path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_scripts_are_executable_and_strict(script: Path) -> None:
    text = script.read_text()
    if script.name != "common.sh":
        assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
        assert "set -euo pipefail" in text
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_azure_deploy_script_passes_secrets_by_file_not_argv(tmp_path: Path) -> None:
    """deploy.sh against a stand-in `az` that records its calls: keys go in a private parameters file."""
    log = tmp_path / "az.log"
    fake_az = tmp_path / "bin" / "az"
    fake_az.parent.mkdir()
    fake_az.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        'for arg in "$@"; do case "$arg" in @*) cat "${arg#@}" > '
        + str(tmp_path / "params.json")
        + ";; esac; done\n"
    )
    fake_az.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake_az.parent}{os.pathsep}{os.environ['PATH']}")
    env["BONEFRAC_API_KEYS"] = "ui:0123456789abcdef,ops:fedcba9876543210"
    result = subprocess.run(
        ["bash", str(DEPLOY / "azure" / "deploy.sh"), "-g", "rg", "-r", "acr1", "-t", "v1", "--no-build"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    calls = log.read_text()
    assert "0123456789abcdef" not in calls, "secrets must not appear on az's command line"
    assert "apiImage=bonefrac-api:v1" in calls and "acrName=acr1" in calls
    params = json.loads((tmp_path / "params.json").read_text())["parameters"]
    assert params["apiKeys"]["value"] == env["BONEFRAC_API_KEYS"]
    assert params["uiApiKey"]["value"] == "0123456789abcdef"


def test_azure_deploy_script_refuses_without_keys(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BONEFRAC_API_KEYS"}
    result = subprocess.run(
        ["bash", str(DEPLOY / "azure" / "deploy.sh"), "-g", "rg", "-r", "acr1"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "BONEFRAC_API_KEYS" in result.stderr
