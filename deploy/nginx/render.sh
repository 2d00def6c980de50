#!/bin/sh
# Fill deploy/nginx/nginx.conf.template from the environment (defaults = the service's own limits) and run
# nginx in the foreground. Used by the proxy image; `render.sh --print` only prints the configuration.
set -eu
: "${BONEFRAC_UPSTREAM:=api:8000}"
: "${BONEFRAC_PROXY_LISTEN:=8080}"
: "${BONEFRAC_PROXY_RUN_DIR:=/tmp/nginx}"
: "${BONEFRAC_MAX_HEADER_BYTES:=16k}"
: "${BONEFRAC_HEADER_TIMEOUT_S:=10}"
: "${BONEFRAC_MAX_UPLOAD_BYTES:=20971520}"
: "${BONEFRAC_BODY_TIMEOUT_S:=60}"
: "${BONEFRAC_PROXY_READ_TIMEOUT_S:=40}"
export BONEFRAC_UPSTREAM BONEFRAC_PROXY_LISTEN BONEFRAC_PROXY_RUN_DIR BONEFRAC_MAX_HEADER_BYTES \
  BONEFRAC_HEADER_TIMEOUT_S BONEFRAC_MAX_UPLOAD_BYTES BONEFRAC_BODY_TIMEOUT_S BONEFRAC_PROXY_READ_TIMEOUT_S
template="${BONEFRAC_PROXY_TEMPLATE:-$(dirname "$0")/nginx.conf.template}"
# shellcheck disable=SC2016  # envsubst's list of variables to fill: literal, not expanded here
vars='${BONEFRAC_UPSTREAM} ${BONEFRAC_PROXY_LISTEN} ${BONEFRAC_PROXY_RUN_DIR} ${BONEFRAC_MAX_HEADER_BYTES} ${BONEFRAC_HEADER_TIMEOUT_S} ${BONEFRAC_MAX_UPLOAD_BYTES} ${BONEFRAC_BODY_TIMEOUT_S} ${BONEFRAC_PROXY_READ_TIMEOUT_S}'
if [ "${1:-}" = "--print" ]; then envsubst "$vars" < "$template"; exit 0; fi
mkdir -p "$BONEFRAC_PROXY_RUN_DIR"
envsubst "$vars" < "$template" > "$BONEFRAC_PROXY_RUN_DIR/nginx.conf"
exec nginx -c "$BONEFRAC_PROXY_RUN_DIR/nginx.conf" -g 'daemon off;'
