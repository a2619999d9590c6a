#!/usr/bin/env bash
# `make demo`: starts the development identity provider and agentauthd, fetches a token with the
# agentauth tool, shows the status table, then keeps serving until Ctrl-C (or stops at once
# when stdin is not a terminal). Both processes are stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
readonly BUILD_DIR=${1:-build}
readonly DEMO_DIR=.demo
readonly AGENTAUTHD="$BUILD_DIR/server/agentauthd"
readonly AGENTAUTH="$BUILD_DIR/client/agentauth"

idp_pid=""
daemon_pid=""
stop_all() {
  [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [[ -n $idp_pid ]] && kill "$idp_pid" 2>/dev/null && wait "$idp_pid" 2>/dev/null
  return 0
}
trap stop_all EXIT
trap 'echo; echo "demo: stopping"; exit 0' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Waits up to 20 s for a line matching $2 in file $1 and prints it.
wait_for_line() {
  local file=$1 pattern=$2
  for _ in $(seq 200); do
    if grep -m1 -E "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "demo: gave up waiting for /$pattern/ in $file; it holds:" >&2
  cat "$file" >&2
  return 1
}

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
chmod 700 "$DEMO_DIR"

step "Starting the development identity provider (oidc-provider on 127.0.0.1)"
node deploy/dev-idp/server.mjs --port 0 --token-lifetime 3600 \
  >"$DEMO_DIR/idp.out" 2>"$DEMO_DIR/idp.log" &
idp_pid=$!
issuer=$(wait_for_line "$DEMO_DIR/idp.out" '"listening"' | sed -E 's/.*"issuer":"([^"]+)".*/\1/')
echo "issuer: $issuer"

step "Starting agentauthd with three demo clients"
printf 'demo-agent-secret\n' >"$DEMO_DIR/demo.secret"
printf 'demo-agent-post-secret\n' >"$DEMO_DIR/demo-post.secret"
printf 'demo-agent-jwt-secret-of-at-least-32-bytes\n' >"$DEMO_DIR/demo-jwt.secret"
chmod 600 "$DEMO_DIR"/*.secret
cat >"$DEMO_DIR/config.json" <<JSON
{
  "listen": "127.0.0.1:0",
  "metrics_listen": "127.0.0.1:0",
  "defaults": {"authority": "$issuer", "min_validity": "60s", "http": {"timeout": "10s"}},
  "clients": [
    {"name": "demo", "client_id": "demo-agent",
     "client_secret_file": "$DEMO_DIR/demo.secret", "scopes": ["itwin-platform", "api.read"]},
    {"name": "demo-post", "client_id": "demo-agent-post", "auth_method": "client_secret_post",
     "client_secret_file": "$DEMO_DIR/demo-post.secret", "scopes": ["api.read"]},
    {"name": "demo-jwt", "client_id": "demo-agent-jwt", "auth_method": "client_secret_jwt",
     "client_secret_file": "$DEMO_DIR/demo-jwt.secret", "scopes": ["api.read"]}
  ]
}
JSON
"$AGENTAUTHD" --config "$DEMO_DIR/config.json" 2>"$DEMO_DIR/agentauthd.log" &
daemon_pid=$!
listening=$(wait_for_line "$DEMO_DIR/agentauthd.log" ' listening ')
echo "$listening"
export AGENTAUTH_TARGET=${listening#* address=}
AGENTAUTH_TARGET=${AGENTAUTH_TARGET%% *}

step "agentauth token --client demo"
token=$("$AGENTAUTH" token --client demo)
echo "$token"

step "curl -H \"\$(agentauth token --client demo --header)\" $issuer/__dev/whoami"
curl -sS --fail-with-body -H "$("$AGENTAUTH" token --client demo --header)" "$issuer/__dev/whoami"
echo

step "agentauth status"
"$AGENTAUTH" token --client demo-post >/dev/null
"$AGENTAUTH" token --client demo-jwt >/dev/null
"$AGENTAUTH" status

echo
metrics=$(sed -nE 's/.* metrics=([^ ]+).*/\1/p' <<<"$listening")
echo "agentauthd serves on $AGENTAUTH_TARGET, metrics on $metrics; its log is in"
echo "$DEMO_DIR/agentauthd.log."
if [[ -t 0 ]]; then
  echo "Try, in another terminal:  AGENTAUTH_TARGET=$AGENTAUTH_TARGET $AGENTAUTH status"
  echo "Press Ctrl-C to stop."
  wait "$daemon_pid"
else
  echo "stdin is not a terminal: stopping."
fi
