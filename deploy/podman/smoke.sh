#!/usr/bin/env bash
# The whole container round trip, by hand: prerequisites, base image, api + ui images, compose up on 127.0.0.1,
# a radiograph through the API, the UI's health, and teardown, which runs even when a step fails.
#   deploy/podman/smoke.sh [IMAGE]     (IMAGE: a radiograph to send; default: a synthetic one)
# BONEFRAC_MODEL_DIR must hold model.onnx (see build-images.sh). `make test-containers` runs the pytest version.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export BONEFRAC_COMPOSE_PROJECT="${BONEFRAC_COMPOSE_PROJECT:-bonefrac-smoke}"
export BONEFRAC_API_PORT="${BONEFRAC_API_PORT:-18000}" BONEFRAC_UI_PORT="${BONEFRAC_UI_PORT:-18501}"
PY="${PYTHON:-python3}"
work="$(mktemp -d)"

teardown() {
  local status=$?
  if ((status != 0)); then
    log "a step failed (exit ${status}); container logs follow"
    "${PODMAN_DIR}/stack.sh" logs 2>&1 | tail -n 80 >&2 || true
  fi
  "${PODMAN_DIR}/stack.sh" down || true
  rm -rf "${work}"
  exit "${status}"
}
trap teardown EXIT

"${PODMAN_DIR}/install-prereqs.sh"
"${PODMAN_DIR}/base-image.sh"
"${PODMAN_DIR}/build-images.sh" api ui
"${PODMAN_DIR}/stack.sh" up

image="${1:-}"
if [[ -z "${image}" ]]; then
  image="${work}/synthetic.png"
  PYTHONPATH="${REPO_ROOT}/src" "${PY}" -c "
import sys
from PIL import Image
from bonefrac.data.synth import write_synthetic_dataset
write_synthetic_dataset(sys.argv[1], images=3, seed=0, size=256)
first = next(p for p in __import__('pathlib').Path(sys.argv[1]).rglob('*.png'))
Image.open(first).save(sys.argv[2])
" "${work}/synth" "${image}"
fi

api="http://127.0.0.1:${BONEFRAC_API_PORT}"
ui="http://127.0.0.1:${BONEFRAC_UI_PORT}"
wait_for() {  # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1"; do
    ((SECONDS < deadline)) || die "$1 did not answer within $2 s"
    sleep 2
  done
}
wait_for "${api}/readyz" 180
log "API ready; sending ${image}"
curl -fsS -F "file=@${image}" "${api}/v1/detect" -o "${work}/detect.json"
"${PY}" -c "
import json, sys
body = json.load(open(sys.argv[1]))
detections = body['detections']
print(f'detect: {len(detections)} detection(s), image {body.get(\"image\")}, model {body.get(\"model\")}')
" "${work}/detect.json" >&2
wait_for "${ui}/_stcore/health" 180
curl -fsS -o /dev/null -w 'UI answered HTTP %{http_code}\n' "${ui}/" >&2
log "smoke test passed"
