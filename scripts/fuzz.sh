#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (built by `make fuzz` into BUILD_DIR) for SECONDS each,
# one after the other, and fails when any of them found something.
#
#   scripts/fuzz.sh BUILD_DIR SECONDS TARGET...      e.g. scripts/fuzz.sh build-fuzz 60 jwt config
#
# Each target works in BUILD_DIR/fuzz/<target>/: corpus/ starts as a copy of the committed
# tests/fuzz/corpus/<target>/ (without the known findings, which would end the run at once) and
# keeps what the fuzzer adds between runs; artifacts/ receives crash-*, leak-*, timeout-* and
# oom-* inputs. libFuzzer runs in fork mode with crashes ignored, so that one known bug does not
# stop the search for others; every artifact is listed at the end. FUZZ_FLAGS adds libFuzzer
# flags (e.g. FUZZ_FLAGS=-max_len=65536).
set -euo pipefail

cd "$(dirname "$0")/.."

if (($# < 3)); then
  echo "usage: $0 BUILD_DIR SECONDS TARGET..." >&2
  exit 2
fi
readonly build_dir=$1 seconds=$2
shift 2
readonly known_findings=tests/fuzz/known_findings.txt

log() { printf 'fuzz: %s\n' "$*"; }

is_known_finding() {
  awk -v input="$1" '$1 == input { found = 1 } END { exit !found }' "$known_findings"
}

seed_corpus() {
  local name=$1 corpus=$2
  for seed in "tests/fuzz/corpus/$name"/*; do
    is_known_finding "$name/$(basename "$seed")" || cp -- "$seed" "$corpus/"
  done
}

run_target() {
  local name=$1
  local work="$build_dir/fuzz/$name"
  local binary="$build_dir/tests/fuzz/agentauth_fuzz_$name"
  mkdir -p "$work/corpus" "$work/artifacts"
  # artifacts/ holds this run's findings only; the corpus keeps growing from run to run.
  rm -f "$work/artifacts"/*
  seed_corpus "$name" "$work/corpus"

  local flags=(-max_total_time="$seconds" -timeout=10 -artifact_prefix="$work/artifacts/"
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -print_final_stats=1)
  [[ -f "tests/fuzz/$name.dict" ]] && flags+=(-dict="tests/fuzz/$name.dict")
  log "$name: ${seconds}s, corpus $work/corpus"
  # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags.
  "$binary" "${flags[@]}" ${FUZZ_FLAGS:-} "$work/corpus" >"$work/fuzz.log" 2>&1 || true
  # The last status line of fork mode: "#<executions>: cov: ... corp: ... time: <s>s ...".
  local status
  status=$(grep -E '^#[0-9]+:' "$work/fuzz.log" | tail -1) || status="no status; see $work/fuzz.log"
  log "$name: $status"
}

for name in "$@"; do
  run_target "$name"
done

# The first line that names the failure: an invariant of tests/fuzz, or a sanitizer's summary.
reason_of() {
  local output reason
  output=$("$build_dir/tests/fuzz/agentauth_fuzz_$1" -timeout=10 "$2" 2>&1) || true
  reason=$(grep -m1 -E 'INVARIANT VIOLATED|SUMMARY: |ERROR: (Address|Leak|libFuzzer)' <<<"$output")
  # Quoted input and sizes differ in every copy of a finding; without them, copies group together.
  sed -E "s/\"[^\"]*(\"(\.\.\.)?|\$)/\"...\"/g; s/'[^']*'/'...'/g; /^INVARIANT/s/[0-9]+/N/g" \
    <<<"${reason:-no reason printed}" | cut -c1-160
}

found=0
for name in "$@"; do
  mapfile -t artifacts < <(find "$build_dir/fuzz/$name/artifacts" -type f \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  ((${#artifacts[@]} > 0)) || continue
  found=$((found + ${#artifacts[@]}))
  # Fork mode saves every crashing input, so one bug comes in many copies: one line per reason,
  # with one input that shows it.
  log "$name: ${#artifacts[@]} finding(s):"
  for artifact in "${artifacts[@]}"; do
    printf '%s\t%s\n' "$(reason_of "$name" "$artifact")" "$artifact"
  done | sort -t $'\t' -k1,1 -u -s | while IFS=$'\t' read -r reason artifact; do
    printf '  %s\n    e.g. %s\n' "$reason" "$artifact"
  done
done
if ((found > 0)); then
  log "replay an input with its binary, shrink it with -minimize_crash=1 -runs=100000"
  exit 1
fi
log "no findings"
