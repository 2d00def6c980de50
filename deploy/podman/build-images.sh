#!/usr/bin/env bash
# Build bonefrac images with podman from the repository root: build-images.sh [api] [ui] [proxy] [train]
# (default: api ui proxy)
# BONEFRAC_BASE_IMAGE picks the base (default here: the local Debian base from base-image.sh; set it to
# docker.io/library/python:3.12-slim where registries are reachable). BONEFRAC_MODEL_DIR (a folder inside the
# repository holding model.onnx) is the model baked into the API image (default deploy/model).
# Prints one line per image: name, size in MB, build seconds.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

targets=("$@")
((${#targets[@]})) || targets=(api ui proxy)
podman_build_args
cd "${REPO_ROOT}"

for target in "${targets[@]}"; do
  extra=()
  case "${target}" in
    api)
      image="${BONEFRAC_API_IMAGE}"
      model_dir="${BONEFRAC_MODEL_DIR:-deploy/model}"
      [[ -s "${model_dir}/model.onnx" ]] || die "no ${model_dir}/model.onnx: set BONEFRAC_MODEL_DIR to a folder inside the repository holding model.onnx"
      extra=(--build-arg "MODEL_DIR=${model_dir}")
      ;;
    ui) image="${BONEFRAC_UI_IMAGE}" ;;
    proxy) image="${BONEFRAC_PROXY_IMAGE}" ;;
    train)
      image="${BONEFRAC_TRAIN_IMAGE}"
      # The train image wants a CUDA base; on the local Debian base it still builds (CPU torch from PyPI).
      if [[ -n "${BONEFRAC_TRAIN_BASE_IMAGE:-}" ]]; then
        extra=(--build-arg "BASE_IMAGE=${BONEFRAC_TRAIN_BASE_IMAGE}")
      fi
      ;;
    *) die "unknown image '${target}': choose from api, ui, proxy, train" ;;
  esac
  log "building ${image} from deploy/Dockerfile.${target} on ${BONEFRAC_BASE_IMAGE}"
  start=${SECONDS}
  podman build "${BUILD_ARGS[@]}" "${extra[@]}" -f "deploy/Dockerfile.${target}" -t "${image}" . >&2
  # The image this tag pointed to before is now dangling: drop it (layers still in use stay, so does the cache).
  podman image prune -f --filter "label=org.opencontainers.image.title=bonefrac-${target}" >/dev/null || true
  size=$(podman image inspect --format '{{.Size}}' "${image}")
  printf '%s\t%d MB\t%d s\n' "${image}" "$((size / 1000000))" "$((SECONDS - start))"
done
