#!/usr/bin/env bash
# Build the local Debian base image once (debootstrap minbase + python3, venv, CA certificates) and keep it:
# in podman's image store, and as a tarball under BONEFRAC_BASE_CACHE so a pruned store re-imports in seconds.
# It stands in for docker.io/library/python:3.12-slim where no registry image can be pulled.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CACHE_DIR="${BONEFRAC_BASE_CACHE:-/var/cache/bonefrac}"
TARBALL="${CACHE_DIR}/base-bookworm-${BASE_RECIPE_HASH}.tar"
MIRROR="${BONEFRAC_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
IMPORT_CHANGES=(
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change 'ENV LANG=C.UTF-8'
  --change 'CMD ["python3"]'
)

if [[ "${BONEFRAC_BASE_IMAGE}" != "${BONEFRAC_LOCAL_BASE}" ]]; then
  log "images build on ${BONEFRAC_BASE_IMAGE} (pulled by podman); no local base needed"
  exit 0
fi
if podman image exists "${BONEFRAC_LOCAL_BASE}"; then
  log "base image ${BONEFRAC_LOCAL_BASE} already present"
  exit 0
fi

mkdir -p "${CACHE_DIR}"
if [[ ! -s "${TARBALL}" ]]; then
  rootfs="$(mktemp -d "${CACHE_DIR}/rootfs.XXXXXX")"
  trap 'rm -rf "${rootfs}"' EXIT
  log "debootstrap bookworm (minbase + python3) into ${rootfs}; this takes a few minutes once"
  # No python3-pip: `python3 -m venv` brings pip from python3-venv's wheels, and images install into venvs only.
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "${rootfs}" "${MIRROR}" >"${CACHE_DIR}/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see ${CACHE_DIR}/debootstrap.log"
  # Smaller and reproducible-ish: no package caches, lists, docs or logs in the image.
  rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/* \
    "${rootfs}"/usr/share/doc/* "${rootfs}"/usr/share/man/* "${rootfs}"/usr/share/locale/* \
    "${rootfs}"/var/log/*.log "${rootfs}"/var/cache/debconf/*-old
  tar --numeric-owner -C "${rootfs}" -cf "${TARBALL}.part" .
  mv "${TARBALL}.part" "${TARBALL}"
fi
log "importing ${TARBALL} as ${BONEFRAC_LOCAL_BASE}"
podman import "${IMPORT_CHANGES[@]}" "${TARBALL}" "${BONEFRAC_LOCAL_BASE}" >/dev/null
podman image exists "${BONEFRAC_LOCAL_BASE}" || die "import did not create ${BONEFRAC_LOCAL_BASE}"
log "base image ${BONEFRAC_LOCAL_BASE} ready"
