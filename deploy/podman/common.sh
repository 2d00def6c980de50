# Shared settings for the deploy/podman scripts; source it, do not run it.
# shellcheck shell=bash

PODMAN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${PODMAN_DIR}/../.." && pwd)"
export REPO_ROOT

# Project-owned podman configuration (runtime, ulimits); a caller may point elsewhere.
export CONTAINERS_CONF="${CONTAINERS_CONF:-${PODMAN_DIR}/containers.conf}"

# The local Debian base that stands in for docker.io/library/python:3.12-slim where no image can be pulled.
# Its tag carries a hash of base-image.sh, so changing the recipe builds a new base instead of reusing a stale one.
BASE_RECIPE_HASH="$(sha256sum "${PODMAN_DIR}/base-image.sh" | cut -c1-12)"
BONEFRAC_LOCAL_BASE="${BONEFRAC_LOCAL_BASE:-localhost/bonefrac-base:bookworm-${BASE_RECIPE_HASH}}"
# Which base the images build FROM: the local one by default here, the official one if you say so.
BONEFRAC_BASE_IMAGE="${BONEFRAC_BASE_IMAGE:-${BONEFRAC_LOCAL_BASE}}"
BONEFRAC_IMAGE_TAG="${BONEFRAC_IMAGE_TAG:-latest}"
BONEFRAC_API_IMAGE="${BONEFRAC_API_IMAGE:-localhost/bonefrac-api:${BONEFRAC_IMAGE_TAG}}"
BONEFRAC_UI_IMAGE="${BONEFRAC_UI_IMAGE:-localhost/bonefrac-ui:${BONEFRAC_IMAGE_TAG}}"
BONEFRAC_TRAIN_IMAGE="${BONEFRAC_TRAIN_IMAGE:-localhost/bonefrac-train:${BONEFRAC_IMAGE_TAG}}"
BONEFRAC_PROXY_IMAGE="${BONEFRAC_PROXY_IMAGE:-localhost/bonefrac-proxy:${BONEFRAC_IMAGE_TAG}}"
export BONEFRAC_LOCAL_BASE BONEFRAC_BASE_IMAGE BONEFRAC_API_IMAGE BONEFRAC_UI_IMAGE BONEFRAC_TRAIN_IMAGE \
  BONEFRAC_PROXY_IMAGE

log() { printf '[bonefrac-podman] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# podman-compose and hadolint come from PyPI (the dev extra); prefer the ones beside the running python.
find_tool() {
  local name="$1" candidate
  for candidate in "${REPO_ROOT}/.venv/bin/${name}" "$(dirname "${PYTHON:-python3}")/${name}"; do
    if [[ -x "${candidate}" ]]; then printf '%s\n' "${candidate}"; return 0; fi
  done
  command -v "${name}" || return 1
}

# Arguments every `podman build` gets: docker format (keeps HEALTHCHECK), the host CA bundle for pip where
# the network re-signs TLS, and the host's PyPI index when one is set.
podman_build_args() {
  BUILD_ARGS=(--format docker --build-arg "BASE_IMAGE=${BONEFRAC_BASE_IMAGE}")
  if [[ -f /etc/ssl/certs/ca-certificates.crt && "${BONEFRAC_BUILD_MOUNT_CA:-1}" == "1" ]]; then
    BUILD_ARGS+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  fi
  if [[ -n "${PIP_INDEX_URL:-}" && "${PIP_INDEX_URL}" == http* ]]; then
    BUILD_ARGS+=(--build-arg "PIP_INDEX_URL=${PIP_INDEX_URL}")
  fi
}
