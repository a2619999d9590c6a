#!/usr/bin/env bash
# The checks of the Helm chart (helm/agentauth/) and the plain manifests (deploy/kubernetes/)
# that `make test` runs, one per CTest test (tests/kubernetes/CMakeLists.txt):
#
#   chart_check.sh lint VALUES                helm lint --strict with the values file
#   chart_check.sh render VALUES
#       helm template, then validate_manifests.mjs: API types, required and unknown fields,
#       and exactly the objects that the values file's "# expect-objects: Kind/name,..." line
#       lists (release "agentauth" in namespace "agentauth"); then check_pod_policy.mjs
#   chart_check.sh notes VALUES               NOTES.txt renders (helm install --dry-run=client)
#   chart_check.sh schema                     values.schema.json rejects a wrong value and an
#                                             unknown key, each with the JSON path in the error
#   chart_check.sh caller-policy              a client without allowedCallers fails the render
#                                             unless daemon.insecureAllowAnyCaller, which alone
#                                             renders --insecure-allow-any-caller
#   chart_check.sh check-config VALUES AGENTAUTHD
#       the rendered ConfigMap's config.json, with the rendered Secret's keys as the secret files
#       (in a temporary folder), passes `agentauthd --check-config` given the Deployment's
#       arguments
#   chart_check.sh alerts-copy                the chart's copy of the alert rules equals
#                                             deploy/monitoring/agentauth-alerts.yaml
#   chart_check.sh kustomize KIND/NAME,...    kubectl kustomize deploy/kubernetes, validated
#                                             the same way
#   chart_check.sh kustomize-check-config AGENTAUTHD   its config.json passes --check-config
#   chart_check.sh validator-self-test        validate_manifests.mjs reports each mistake of
#                                             testdata/invalid.yaml (so the checks can fail)
#   chart_check.sh pod-policy-self-test       check_pod_policy.mjs reports a weakened Deployment
#
# helm and kubectl run through scripts/helm.sh and scripts/kubectl.sh, offline. VALUES paths are
# relative to the repository root.
set -euo pipefail

cd "$(dirname "$0")/../.."
readonly CHART=helm/agentauth
readonly RELEASE=agentauth
readonly NAMESPACE=agentauth
readonly VALIDATE=tests/kubernetes/validate_manifests.mjs
readonly POD_POLICY=tests/kubernetes/check_pod_policy.mjs

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "chart_check: $*" >&2
  exit 1
}

render() {
  scripts/helm.sh template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "$@"
}

# Runs helm template with the arguments, expecting it to fail with a message containing $1.
expect_rejected() {
  local expected=$1
  shift
  if render "$@" >"$work/out" 2>"$work/err"; then
    fail "helm template $* was accepted; expected an error containing: $expected"
  fi
  grep -qF -- "$expected" "$work/err" ||
    fail "helm template $* failed, but not with \"$expected\":$(printf '\n')$(cat "$work/err")"
  echo "rejected as expected: $* -> $(grep -F -- "$expected" "$work/err" | sed 's/^[- ]*//')"
}

# Runs `agentauthd --check-config` ($2), with the arguments of the rendered Deployment, on the
# config.json of the one ConfigMap in the rendered file $1. Each client's secret file is written
# to a temporary folder instead of the mount path (its name kept): from the rendered Secret's key
# of that name when there is one, else a stand-in, as a Secret the user manages (existingSecret)
# would provide it. The service-account files of caller_auth.kubernetes get stand-ins likewise.
check_rendered_config() {
  local rendered=$1 agentauthd=$2
  mkdir -p "$work/secrets"
  node --input-type=module - "$rendered" "$work" <<'JS'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseAllDocuments } from 'yaml';
const [file, work] = process.argv.slice(2);
const objects = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS()).filter(Boolean);
const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
if (configMaps.length !== 1 || !configMaps[0].data?.['config.json']) {
  console.error(`expected one ConfigMap with config.json, found ${configMaps.length}`);
  process.exit(1);
}
const config = JSON.parse(configMaps[0].data['config.json']);
const secrets = objects.filter((o) => o.kind === 'Secret');
for (const client of config.clients) {
  const name = basename(client.client_secret_file);
  const secret = secrets.find((s) => s.data?.[name] || s.stringData?.[name]);
  const value = secret?.stringData?.[name] ??
    (secret ? Buffer.from(secret.data[name], 'base64').toString() : `stand-in-for-${name}`);
  client.client_secret_file = `${work}/secrets/${name}`;
  writeFileSync(client.client_secret_file, value, { mode: 0o600 });
}
// The pod's own service-account files (caller_auth.kubernetes), which --check-config reads:
// stand-ins under the same names, as the kubelet would mount them.
const kubernetes = config.caller_auth?.kubernetes;
for (const key of ['ca_file', 'bearer_token_file']) {
  if (!kubernetes?.[key]) continue;
  const name = basename(kubernetes[key]);
  kubernetes[key] = `${work}/serviceaccount/${name}`;
  mkdirSync(`${work}/serviceaccount`, { recursive: true });
  writeFileSync(kubernetes[key], `stand-in-for-${name}\n`, { mode: 0o600 });
}
writeFileSync(`${work}/config.json`, JSON.stringify(config, null, 2));
// The daemon's arguments as the Deployment gives them, but for the config's new place.
const deployment = objects.find((o) => o.kind === 'Deployment');
const daemon = deployment.spec.template.spec.containers.find((c) => c.name === 'agentauthd');
const args = (daemon.args ?? []).filter((arg) => !arg.startsWith('--config'));
writeFileSync(`${work}/args`, args.map((arg) => `${arg}\n`).join(''));
JS
  local args
  mapfile -t args <"$work/args"
  echo "agentauthd ${args[*]} --config CONFIG --check-config"
  "$agentauthd" "${args[@]}" --config "$work/config.json" --check-config
}

command=${1:-}
shift || true
case $command in
  lint)
    scripts/helm.sh lint --strict "$CHART" --namespace "$NAMESPACE" -f "$1"
    ;;

  render)
    expected=$(sed -n 's/^# expect-objects: //p' "$1")
    [[ -n $expected ]] || fail "$1 has no '# expect-objects: Kind/name,...' line"
    render -f "$1" >"$work/rendered.yaml"
    node "$VALIDATE" --expect "$expected" "$work/rendered.yaml"
    node "$POD_POLICY" "$work/rendered.yaml"
    ;;

  notes)
    # NOTES.txt is rendered only by install; --dry-run=client needs no cluster.
    scripts/helm.sh install "$RELEASE" "$CHART" --namespace "$NAMESPACE" --dry-run=client \
      -f "$1" >"$work/install.txt"
    sed -n '/^NOTES:/,$p' "$work/install.txt" >"$work/notes.txt"
    grep -qF "Callers reach it at:" "$work/notes.txt" ||
      fail "NOTES.txt did not render:$(printf '\n')$(cat "$work/install.txt")"
    cat "$work/notes.txt"
    ;;

  schema)
    # Sanity first: the defaults render, so a rejection below is the schema's doing.
    render >/dev/null
    expect_rejected "at '/replicaCount': got string, want integer" --set-string replicaCount=two
    expect_rejected "at '/daemon/logLevel': value must be one of" --set daemon.logLevel=verbose
    expect_rejected "additional properties 'replicas' not allowed" --set replicas=3
    expect_rejected "at '/config/defaults': additional properties 'min_validty' not allowed" \
      --set config.defaults.min_validty=60s
    expect_rejected "at '/clients/0/name': " --set 'clients[0].name=no spaces allowed'
    # Not the schema's: the templates' own check that the pod outlives the daemon's drain.
    expect_rejected "terminationGracePeriodSeconds (12) must be at least" \
      --set terminationGracePeriodSeconds=12
    ;;

  caller-policy)
    # Clients open to any caller fail the render, naming them and both ways out, unless the
    # opt-out is set; only then is --insecure-allow-any-caller passed.
    readonly OPEN=tests/kubernetes/testdata/open-client-values.yaml
    expect_rejected \
      "client(s) reports have no allowedCallers while the daemon listens beyond loopback" -f "$OPEN"
    for way_out in "Give each of them allowedCallers" "set daemon.insecureAllowAnyCaller=true"; do
      grep -qF -- "$way_out" "$work/err" ||
        fail "the refusal does not say \"$way_out\": $(cat "$work/err")"
    done
    expect_rejected "client example allows caller serviceaccount:example/*, but callerAuth.kubernetes.enabled is false" \
      --set callerAuth.kubernetes.enabled=false
    render -f "$OPEN" --set daemon.insecureAllowAnyCaller=true >"$work/opted-out.yaml"
    grep -qxF -- "            - --insecure-allow-any-caller" "$work/opted-out.yaml" ||
      fail "daemon.insecureAllowAnyCaller=true did not pass --insecure-allow-any-caller"
    render >"$work/default.yaml"
    if grep -qF -- "--insecure-allow-any-caller" "$work/default.yaml"; then
      fail "the default values pass --insecure-allow-any-caller"
    fi
    # Only the daemon's listeners count: on a Unix socket alone an open client is allowed.
    render -f "$OPEN" --set-json 'config.listeners=[{"address":"unix:/tmp/agentauth.sock"}]' \
      >/dev/null || fail "an open client on a Unix socket only was refused"
    echo "open clients refused; --insecure-allow-any-caller rendered only when asked for"
    ;;

  check-config)
    render -f "$1" >"$work/rendered.yaml"
    check_rendered_config "$work/rendered.yaml" "$2"
    ;;

  alerts-copy)
    cmp deploy/monitoring/agentauth-alerts.yaml "$CHART/files/agentauth-alerts.yaml" ||
      fail "$CHART/files/agentauth-alerts.yaml differs from deploy/monitoring/agentauth-alerts.yaml: copy it again"
    echo "the chart's alert rules equal deploy/monitoring/agentauth-alerts.yaml"
    ;;

  kustomize)
    scripts/kubectl.sh kustomize deploy/kubernetes >"$work/kustomized.yaml"
    node "$VALIDATE" --expect "$1" "$work/kustomized.yaml"
    node "$POD_POLICY" "$work/kustomized.yaml"
    ;;

  kustomize-check-config)
    scripts/kubectl.sh kustomize deploy/kubernetes >"$work/kustomized.yaml"
    check_rendered_config "$work/kustomized.yaml" "$1"
    ;;

  validator-self-test)
    readonly INVALID=tests/kubernetes/testdata/invalid.yaml
    if node "$VALIDATE" "$INVALID" >"$work/out" 2>"$work/err"; then
      fail "validate_manifests.mjs accepted $INVALID"
    fi
    sed -n 's/^# expect: //p' "$INVALID" >"$work/expected"
    missing=$(grep -vxF -f "$work/err" "$work/expected" || true)
    [[ -z $missing ]] || fail "validate_manifests.mjs did not report:$(printf '\n')$missing$(printf '\n')it said:$(printf '\n')$(cat "$work/err")"
    echo "validate_manifests.mjs reported all $(wc -l <"$work/expected") mistakes of $INVALID"
    ;;

  pod-policy-self-test)
    # Values a user may choose but the defaults must not: check_pod_policy.mjs has to notice.
    render --set securityContext.readOnlyRootFilesystem=false --set topologySpread.enabled=false \
      >"$work/weakened.yaml"
    if node "$POD_POLICY" "$work/weakened.yaml" 2>"$work/err"; then
      fail "check_pod_policy.mjs accepted a writable root file system and unspread replicas"
    fi
    for expected in "Deployment/agentauth agentauthd: readOnlyRootFilesystem is not true" \
      "Deployment/agentauth: several replicas but no spread over nodes"; do
      grep -qxF "$expected" "$work/err" ||
        fail "check_pod_policy.mjs did not report \"$expected\"; it said: $(cat "$work/err")"
    done
    echo "check_pod_policy.mjs reported the weakened Deployment"
    ;;

  *)
    fail "unknown command \"$command\" (see the comment at the top of $0)"
    ;;
esac
