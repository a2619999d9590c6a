#!/usr/bin/env bash
# Installs what agentauth's build, tests and demo need on Debian 12: Debian packages with apt,
# npm packages into ./node_modules (versions locked by package-lock.json). Idempotent: a second
# run installs nothing and takes about a second. `make demo` and `make test` call it first.
set -euo pipefail

cd "$(dirname "$0")/.."

readonly DEBIAN_PACKAGES=(
  ca-certificates cmake g++ make pkg-config clang-format curl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

log() { printf 'bootstrap: %s\n' "$*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    log "need root to run: $*"
    exit 1
  fi
}

install_debian_packages() {
  local missing=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  # Node may come from elsewhere than Debian (NodeSource, nvm); only install it when absent.
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)

  if ((${#missing[@]} == 0)); then
    log "Debian packages present"
    return
  fi
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
}

install_npm_packages() {
  # npm writes node_modules/.package-lock.json on every install: when it is newer than the
  # committed lock file, the installed tree matches it.
  if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json ]]; then
    log "npm packages present"
    return
  fi
  log "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
}

install_debian_packages
install_npm_packages
