#!/usr/bin/env bash
# Builds the container image of deploy/Dockerfile with podman and runs it for real:
#
#   tests/container/image_test.sh
#
# 1. makes the base image debian:bookworm-slim when missing (scripts/container-base-image.sh);
# 2. podman build --pull=never (layers are cached in podman's storage between runs);
# 3. starts the development identity provider on the host's loopback and the image on the host
#    network, with a config (mounted read-only) pointing at that provider;
# 4. fetches a token with the image's agentauth tool and has the provider accept it, and asks its
#    grpc.health.v1 service with `agentauth health`, as the chart's `helm test` pod does;
# 5. checks that the daemon is the container's PID 1 and runs as uid 10001, not root;
# 6. stops the container with SIGTERM and expects the daemon's drain and exit code 0.
#
# AGENTAUTH_SKIP_IMAGE=1 skips it (exit 77, which CTest reports as skipped) for quick local
# runs; CI never sets it. Prints the wall time of the build and of the run.
set -euo pipefail

cd "$(dirname "$0")/../.."
readonly PODMAN=scripts/podman.sh
readonly UID_IN_IMAGE=10001
readonly CLIENT=demo

if [[ ${AGENTAUTH_SKIP_IMAGE:-} == 1 ]]; then
  echo "image_test: skipped (AGENTAUTH_SKIP_IMAGE=1)"
  exit 77
fi

log() { printf 'image_test: %s\n' "$*"; }
fail() {
  printf 'image_test: FAILED: %s\n' "$*" >&2
  exit 1
}

# One image tag and container name per checkout and run, so that checkouts do not disturb
# each other; the tags are reused by the next run of this checkout (whose build starts from the
# cached layers). The build stage is tagged too, so that the image it replaces can be removed:
# each change of the sources would otherwise leave about 750 MB behind.
checkout_id=$(pwd | sha256sum | cut -c1-8)
readonly IMAGE="localhost/agentauth:test-$checkout_id"
readonly BUILD_IMAGE="localhost/agentauth-build:test-$checkout_id"
readonly CONTAINER="agentauth-image-test-$checkout_id-$$"

work=$(mktemp -d)
idp_pid=""
cleanup() {
  "$PODMAN" rm --force --ignore "$CONTAINER" >/dev/null 2>&1 || true
  [[ -n $idp_pid ]] && kill "$idp_pid" 2>/dev/null && wait "$idp_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Waits up to $3 seconds for output of command $1... matching $2 (ERE); prints the first match.
wait_for_output() {
  local pattern=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  local output
  while ((SECONDS < deadline)); do
    # Not `"$@" | grep -m1`: with pipefail, grep closing the pipe early would fail the pipeline
    # (SIGPIPE) after printing its match, and the loop would print it again.
    output=$("$@" 2>&1 || true)
    if grep -m1 -E "$pattern" <<<"$output"; then return 0; fi
    sleep 0.2
  done
  return 1
}

started=$SECONDS
scripts/container-base-image.sh

# Builds deploy/Dockerfile up to stage $1 (empty: the last) as $2 and removes the image that
# tag named before, when it changed.
build() {
  local target=$1 tag=$2 previous current
  previous=$("$PODMAN" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  "$PODMAN" build --pull=never --network=host --layers ${target:+--target "$target"} \
    -f deploy/Dockerfile -t "$tag" . >"$work/build.log" 2>&1 || {
    tail -40 "$work/build.log" >&2
    fail "podman build of $tag failed"
  }
  current=$("$PODMAN" image inspect --format '{{.Id}}' "$tag")
  if [[ -n $previous && $previous != "$current" ]]; then
    "$PODMAN" rmi "$previous" >/dev/null 2>&1 || true
  fi
}

log "building $IMAGE"
build_started=$SECONDS
build build "$BUILD_IMAGE"
build "" "$IMAGE"
build_seconds=$((SECONDS - build_started))
log "built in ${build_seconds}s: $("$PODMAN" image inspect --format '{{.Size}}' "$IMAGE") bytes"

labels=$("$PODMAN" image inspect --format '{{json .Labels}}' "$IMAGE")
[[ $labels == *'"org.opencontainers.image.title":"agentauth"'* ]] ||
  fail "OCI labels missing: $labels"
user=$("$PODMAN" image inspect --format '{{.Config.User}}' "$IMAGE")
[[ $user == "$UID_IN_IMAGE:$UID_IN_IMAGE" ]] || fail "image user is \"$user\", not $UID_IN_IMAGE"

run_started=$SECONDS
log "starting the development identity provider on 127.0.0.1"
node deploy/dev-idp/server.mjs --port 0 --token-lifetime 600 >"$work/idp.out" 2>"$work/idp.log" &
idp_pid=$!
listening=$(wait_for_output '"listening"' 20 cat "$work/idp.out") ||
  fail "the identity provider did not start: $(cat "$work/idp.log")"
issuer=$(sed -E 's/.*"issuer":"([^"]+)".*/\1/' <<<"$listening")

# The config and the secret, readable by the image's user only (the secret) or by all.
mkdir -p "$work/etc"
printf 'demo-agent-secret\n' >"$work/etc/demo.secret"
chown "$UID_IN_IMAGE:$UID_IN_IMAGE" "$work/etc/demo.secret"
chmod 400 "$work/etc/demo.secret"
cat >"$work/etc/config.json" <<JSON
{
  "listen": "127.0.0.1:0",
  "metrics_listen": "127.0.0.1:0",
  "defaults": {"authority": "$issuer"},
  "clients": [
    {"name": "$CLIENT", "client_id": "demo-agent",
     "client_secret_file": "/etc/agentauth/demo.secret", "scopes": ["itwin-platform"]}
  ]
}
JSON
chmod 755 "$work" "$work/etc"
chmod 644 "$work/etc/config.json"

log "running $IMAGE on the host network"
"$PODMAN" run --detach --pull=never --network=host --name "$CONTAINER" \
  --read-only --cap-drop=ALL --security-opt=no-new-privileges \
  --volume "$work/etc:/etc/agentauth:ro" "$IMAGE" >/dev/null
line=$(wait_for_output ' listening ' 30 "$PODMAN" logs "$CONTAINER") ||
  fail "the daemon did not start listening: $("$PODMAN" logs "$CONTAINER" 2>&1)"
target=$(sed -E 's/.* address=([^ ]+).*/\1/' <<<"$line")
log "daemon: $line"

token=$("$PODMAN" exec "$CONTAINER" agentauth token --client "$CLIENT" --target "$target") ||
  fail "agentauth token failed: $("$PODMAN" logs "$CONTAINER" 2>&1 | tail -5)"
[[ -n $token && $token != *[[:space:]]* ]] || fail "agentauth token printed no token"
# The provider itself confirms that the token is one it issued.
curl -sS --fail-with-body -H "Authorization: Bearer $token" "$issuer/__dev/whoami" >"$work/whoami" ||
  fail "the provider rejected the token: $(cat "$work/whoami")"
grep -q 'demo-agent' "$work/whoami" || fail "the token is not demo-agent's: $(cat "$work/whoami")"
log "token fetched from the container and accepted by the provider"

# What the chart's `helm test` pod runs (helm/agentauth/templates/tests/): grpc.health.v1 through
# `agentauth health`, SERVING once the prewarm is done; and a service it does not know is refused.
health=$("$PODMAN" exec "$CONTAINER" agentauth health --target="$target") ||
  fail "agentauth health failed (exit $?): $health"
[[ $health == SERVING ]] || fail "agentauth health printed \"$health\", not SERVING"
set +e
"$PODMAN" exec "$CONTAINER" agentauth health --service=no.such.Service --target="$target" \
  >/dev/null 2>"$work/health.err"
unknown_exit=$?
set -e
[[ $unknown_exit == 4 ]] ||
  fail "agentauth health of an unknown service exited $unknown_exit, not 4: $(cat "$work/health.err")"
log "agentauth health says SERVING (and exits 4 for a service the daemon does not know)"

host_pid=$("$PODMAN" inspect --format '{{.State.Pid}}' "$CONTAINER")
process_uid=$(awk '/^Uid:/ { print $2 }' "/proc/$host_pid/status")
command_line=$(tr '\0' ' ' <"/proc/$host_pid/cmdline")
[[ $command_line == /usr/local/bin/agentauthd* ]] ||
  fail "the container's PID 1 is \"$command_line\", not agentauthd"
[[ $process_uid == "$UID_IN_IMAGE" ]] || fail "agentauthd runs as uid $process_uid, not $UID_IN_IMAGE"
log "PID 1 is agentauthd, running as uid $process_uid"

# podman stop sends the image's STOPSIGNAL (SIGTERM) and SIGKILL only after --time seconds.
"$PODMAN" stop --time 30 "$CONTAINER" >/dev/null
exit_code=$("$PODMAN" inspect --format '{{.State.ExitCode}}' "$CONTAINER")
logs=$("$PODMAN" logs "$CONTAINER" 2>&1)
[[ $exit_code == 0 ]] || fail "exit code $exit_code after SIGTERM; log: $logs"
grep -q 'stopping reason=SIGTERM' <<<"$logs" || fail "no 'stopping reason=SIGTERM' in the log: $logs"
grep -q ' stopped' <<<"$logs" || fail "no 'stopped' in the log: $logs"
log "SIGTERM: drained and exited with code 0"

log "passed: build ${build_seconds}s, run $((SECONDS - run_started))s, total $((SECONDS - started))s"
