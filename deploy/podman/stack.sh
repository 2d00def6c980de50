#!/usr/bin/env bash
# Start, inspect or stop the compose stack with podman-compose, bound to 127.0.0.1 by default.
#   stack.sh up | down | ps | logs
# BONEFRAC_COMPOSE_PROJECT names the stack (default bonefrac); BONEFRAC_API_PORT / BONEFRAC_UI_PORT pick the host
# ports (8000 / 8501). Images must exist (build-images.sh); `up` never builds or pulls.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export BONEFRAC_BIND="${BONEFRAC_BIND:-127.0.0.1}"
PROJECT="${BONEFRAC_COMPOSE_PROJECT:-bonefrac}"
COMPOSE_BIN="$(find_tool podman-compose)" || die "podman-compose not found: run install-prereqs.sh"
compose() { "${COMPOSE_BIN}" --podman-path podman -p "${PROJECT}" -f "${REPO_ROOT}/deploy/compose.yaml" "$@"; }

case "${1:-}" in
  up)
    log "starting ${PROJECT}: api (through its proxy) on ${BONEFRAC_BIND}:${BONEFRAC_API_PORT:-8000}, ui on ${BONEFRAC_BIND}:${BONEFRAC_UI_PORT:-8501}"
    compose up -d --no-build api proxy ui >&2
    ;;
  down)
    log "stopping ${PROJECT} and removing its containers, network and volumes"
    compose down -v -t 20 >&2 || true
    # podman-compose leaves the pod/network behind on some versions; remove what carries the project's name.
    podman pod rm -f "pod_${PROJECT}" >/dev/null 2>&1 || true
    podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
    ;;
  ps) compose ps ;;
  logs) compose logs ;;
  *) die "usage: stack.sh up|down|ps|logs" ;;
esac
