#!/usr/bin/env bash
# Runs podman with agentauth's containers.conf (deploy/container/containers.conf: the runc runtime
# and ulimits this machine allows), e.g. `scripts/podman.sh images`. Nothing under /etc changes.
set -euo pipefail

CONTAINERS_CONF="$(cd "$(dirname "$0")/.." && pwd)/deploy/container/containers.conf"
export CONTAINERS_CONF
exec podman "$@"
