#!/usr/bin/env bash
# Build and push the bonefrac images to Azure Container Registry, then deploy main.bicep to Container Apps.
#   deploy/azure/deploy.sh -g RESOURCE_GROUP -r ACR_NAME [-l LOCATION] [-t TAG] [-p NAME_PREFIX] [--no-build]
# Needs: az (logged in: `az login`), permission to create role assignments in the group (Owner or
# User Access Administrator + Contributor). API keys come from the environment, never from the command line:
#   BONEFRAC_API_KEYS="ui:$(openssl rand -hex 24),ops:$(openssl rand -hex 24)"   (comma-separated, id:key)
#   BONEFRAC_AUDIT_DB_URL=postgresql+psycopg://...   (optional; empty: SQLite per replica)
# The images are built by ACR Tasks (`az acr build`) in Azure: no local Docker needed, and no admin credentials.
set -euo pipefail

usage() { sed -n '2,9p' "$0" >&2; exit 2; }
die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }

group="" registry="" location="" tag="" prefix="bonefrac" build=1
while (($#)); do
  case "$1" in
    -g) group="$2"; shift 2 ;;
    -r) registry="$2"; shift 2 ;;
    -l) location="$2"; shift 2 ;;
    -t) tag="$2"; shift 2 ;;
    -p) prefix="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -n "${group}" && -n "${registry}" ]] || usage
[[ -n "${BONEFRAC_API_KEYS:-}" ]] || die "set BONEFRAC_API_KEYS (comma-separated id:key, keys >= 8 characters)"
command -v az >/dev/null || die "the Azure CLI (az) is required: https://learn.microsoft.com/cli/azure/install-azure-cli"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tag="${tag:-$(git -C "${repo_root}" describe --tags --always --dirty 2>/dev/null || date +%Y%m%d%H%M)}"
# The UI authenticates with the first key (its secret part, after "id:").
first_key="${BONEFRAC_API_KEYS%%,*}"
ui_key="${first_key#*:}"

if [[ -n "${location}" ]]; then
  az group create --name "${group}" --location "${location}" --output none
fi
az acr show --name "${registry}" --resource-group "${group}" --output none \
  || die "registry ${registry} not found in ${group}: az acr create -g ${group} -n ${registry} --sku Basic"

if ((build)); then
  for image in api ui proxy; do
    echo "building bonefrac-${image}:${tag} in ${registry} (ACR Tasks)" >&2
    az acr build --registry "${registry}" --image "bonefrac-${image}:${tag}" \
      --file "deploy/Dockerfile.${image}" "${repo_root}" --output none
  done
fi

# Secrets travel in a private parameters file, not on the command line (where `ps` would show them).
umask 077
secrets_file="$(mktemp)"
trap 'rm -f "${secrets_file}"' EXIT
python3 - "${secrets_file}" "${ui_key}" <<'PY'
import json, os, sys
values = {
    "apiKeys": os.environ["BONEFRAC_API_KEYS"],
    "uiApiKey": sys.argv[2],
    "auditDbUrl": os.environ.get("BONEFRAC_AUDIT_DB_URL", ""),
}
parameters = {name: {"value": value} for name, value in values.items()}
document = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
    "contentVersion": "1.0.0.0",
    "parameters": parameters,
}
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump(document, handle)
PY

echo "deploying main.bicep to ${group}" >&2
az deployment group create \
  --resource-group "${group}" \
  --name "bonefrac-${tag//[^A-Za-z0-9-]/-}" \
  --template-file "${repo_root}/deploy/azure/main.bicep" \
  --parameters "@${secrets_file}" \
  --parameters namePrefix="${prefix}" acrName="${registry}" \
    apiImage="bonefrac-api:${tag}" uiImage="bonefrac-ui:${tag}" proxyImage="bonefrac-proxy:${tag}" \
  --query properties.outputs --output json
