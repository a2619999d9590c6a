#!/usr/bin/env bash
# Runs promtool, Prometheus's rule and config checker, with the given arguments, e.g.
#
#   scripts/promtool.sh test rules deploy/monitoring/agentauth-alerts.test.yaml
#
# promtool comes from Debian's prometheus package, which scripts/bootstrap.sh unpacks into
# .tools/prometheus/ without installing it (installing would start a Prometheus server).
# Relative paths in the arguments are taken from the caller's working directory.
set -euo pipefail

promtool="$(cd "$(dirname "$0")/.." && pwd)/.tools/prometheus/usr/bin/promtool"
readonly promtool

if [[ ! -x $promtool ]]; then
  echo "promtool.sh: $promtool is missing: run scripts/bootstrap.sh (or make bootstrap) first" >&2
  exit 1
fi
exec "$promtool" "$@"
