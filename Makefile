# bonefrac: `make run` and `make test` set themselves up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch is pinned to the build that lies on this project's CI machines (see constraints.txt).
PIP_INSTALL := $(PIP) install --disable-pip-version-check -q -c constraints.txt
# The type check is blocking: `make test`, `make test-fast` and `make lint` run it first, and a type error stops them.
TYPECHECK := $(PY) -m mypy src/bonefrac

.PHONY: help venv browser-deps system-deps typecheck test test-fast lint run clean test-containers images container-smoke

help:
	@echo "make run        set up and start bonefrac on its built-in default"
	@echo "make test       set up, type-check (mypy) and run the whole test suite"
	@echo "make test-fast  type-check, then the suite without the slow container stage"
	@echo "make lint       ruff over src, tests and bench, and mypy over src/bonefrac"
	@echo "make typecheck  mypy over src/bonefrac alone"
	@echo "make test-containers  only the container stage (podman: build, compose up, probe, tear down)"
	@echo "make images     build the api, ui and proxy images with podman (BONEFRAC_MODEL_DIR: the model to bake in)"
	@echo "make container-smoke  build, start, probe and stop the compose stack by hand (deploy/podman/smoke.sh)"

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q --upgrade pip setuptools wheel
	$(PIP_INSTALL) -e '.[train,serve,openvino,ray,report,data,dicom,dev]'
	touch $@

venv: $(VENV)/.installed

# Debian chromium for the browser test (tests/ui/test_browser.py skips without it). Playwright never
# downloads a browser here. Needs root (or password-less sudo); elsewhere it says so and the test skips.
browser-deps:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "browser-deps: no apt-get; install chromium at /usr/bin/chromium to run the browser test"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "browser-deps: not root; run 'sudo apt-get install chromium chromium-driver' to run the browser test"; exit 0; fi; \
	echo "browser-deps: installing Debian chromium and chromium-driver"; \
	$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver \
	  || echo "browser-deps: apt-get failed; the browser test will skip"

# Debian packages the tests run real components from: dicom3tools (dciodvfy checks every DICOM result), Orthanc
# with its DICOMweb plugin (the PACS of the DICOM node and DICOMweb tests), nginx and envsubst (the reverse proxy's
# configuration). Without root the tests that need them skip, saying why.
system-deps:
	@if command -v dciodvfy >/dev/null && command -v Orthanc >/dev/null && [ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] && [ -x /usr/sbin/nginx ] && command -v envsubst >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "system-deps: no apt-get; install dicom3tools, orthanc, orthanc-dicomweb, nginx-light and gettext-base to run those tests"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "system-deps: not root; run 'sudo apt-get install dicom3tools orthanc orthanc-dicomweb nginx-light gettext-base' to run those tests"; exit 0; fi; \
	echo "system-deps: installing Debian dicom3tools, orthanc, orthanc-dicomweb, nginx-light and gettext-base"; \
	$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dicom3tools orthanc orthanc-dicomweb nginx-light gettext-base \
	  || echo "system-deps: apt-get failed; the tests that need these will skip"

typecheck: venv
	$(TYPECHECK)

test: venv browser-deps system-deps
	$(TYPECHECK)
	$(PY) -m pytest -q

test-fast: venv browser-deps system-deps
	$(TYPECHECK)
	$(PY) -m pytest -q -m "not container"

lint: venv
	$(PY) -m ruff check src tests bench
	$(TYPECHECK)

run:
	PYTHON=$(PYTHON) ./scripts/run.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .data runs

# Container stage (deploy/): `make test` runs it too; `make test-fast` leaves it out.
test-containers: venv
	$(PY) -m pytest -q -m container -rA

images: venv
	PYTHON=$(abspath $(PY)) deploy/podman/install-prereqs.sh
	deploy/podman/base-image.sh
	deploy/podman/build-images.sh api ui

container-smoke: venv
	PYTHON=$(abspath $(PY)) deploy/podman/smoke.sh
