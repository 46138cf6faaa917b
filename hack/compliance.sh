#!/usr/bin/env bash
# Runs the Prometheus project's remote-write compliance suites (github.com/prometheus/compliance,
# remotewrite/), as pinned in hack/modules/compliance/{receiver,sender}/go.mod, and prints their
# results counted the way the suites' own results page (remotewrite/index.html) counts them:
# per receiver or sender, MUST/SHOULD/MAY tests passed and failed, then every failing MUST test
# with the assertion that failed.
#
#   hack/compliance.sh [receiver|sender|all]     (default: all)
#
# receiver: the receiver suite against `redline k6-relay` (built with cargo, started on a free
#           loopback port, forwarding to a stock Prometheus 3) and, for comparison, against that
#           Prometheus 3 itself, in one run.
# sender:   the sender suite against its reference sender, Prometheus 3. redline cannot be a
#           target yet: the suite runs each sender (a Go `sender.Sender`) with the address of
#           an OpenMetrics endpoint to scrape and a receiver to remote-write what it scraped to,
#           and no redline daemon scrapes an arbitrary endpoint; the only version the Go module
#           proxy serves (see hack/modules/compliance/sender/go.mod) tests remote-write 2.0
#           only, which redline sends now (--remote-write-protocol 2.0|auto); the module version
#           that could take another sender is refused by the proxy.
#
# Needs Go 1.26 and the Go module proxy (first run), cargo, python3. Prometheus 3 comes from
# hack/go-tools.sh prometheus. Results (go test -json, readable by the suites' index.html) go to
# ${COMPLIANCE_OUT:-.redline/compliance}/. Every process it starts is stopped by its pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
what=${1:-all}
case $what in
  receiver | sender | all) ;;
  *) echo "usage: hack/compliance.sh [receiver|sender|all]" >&2; exit 2 ;;
esac

out=${COMPLIANCE_OUT:-$root/.redline/compliance}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/redline-compliance.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

log() { echo "compliance: $*" >&2; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 30 s for a 2xx from $1.
wait_ready() {
  local url=$1 i
  for ((i = 0; i < 300; i++)); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  log "$url did not answer within 30 s"
  return 1
}

# Builds a suite's test binary from its pinned module: $1 = module folder, $2 = package, $3 = out.
build_suite() {
  log "building the $(basename "$1") suite ($2)"
  (cd "$1" && go test -c -o "$3" "$2")
}

# Runs a suite binary in $work (its working directory matters to both suites) as go test -json.
run_suite() {
  local binary=$1 json=$2
  shift 2
  (cd "$work" && go tool test2json -t -p "$(basename "$binary" .test)" "$binary" -test.v=test2json "$@") >"$json" || true
}

# The counts of the suites' results page: a test counts once per receiver/sender (`rw`
# attribute), at the RFC level of its nearest annotated ancestor, with the worst result of its
# runs; tests without both attributes are not counted.
summarise() {
  python3 - "$1" <<'PY'
import json, sys

events = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
attrs = [e for e in events if e.get("Action") == "attr" and e.get("Test")]

def attr(test, key):
    best = None
    for a in attrs:
        p = a["Test"]
        if a.get("Key") == key and (test == p or test.startswith(p + "/")):
            if best is None or len(p) > len(best[0]):
                best = (p, a["Value"])
    return best[1] if best else None

rank = {"fail": 3, "skip": 2, "pass": 1}
rows = {}
output = {}
for e in events:
    if e.get("Action") == "output" and e.get("Test"):
        output.setdefault(e["Test"], []).append(e["Output"])
for e in events:
    test, action = e.get("Test"), e.get("Action")
    if not test or action not in rank:
        continue
    rw, level = attr(test, "rw"), attr(test, "rfcLevel")
    if not rw or not level:
        continue
    # The row is the test without its receiver/sender segment (the last one naming it).
    segs = test.split("/")
    if rw in segs:
        del segs[len(segs) - 1 - segs[::-1].index(rw)]
    key = ("/".join(segs), rw)
    prev = rows.get(key)
    if prev is None or rank[action] > rank[prev[1]]:
        rows[key] = (level.upper(), action, test)

targets = sorted({rw for (_, rw) in rows})
for rw in targets:
    counts = {}
    for (base, r), (level, action, _) in rows.items():
        if r == rw:
            counts[(level, action)] = counts.get((level, action), 0) + 1
    parts = []
    for level in ("MUST", "SHOULD", "MAY", "RECOMMENDED"):
        ok, bad, skip = (counts.get((level, a), 0) for a in ("pass", "fail", "skip"))
        if ok or bad or skip:
            parts.append(f"{level}: {ok} OK, {bad} FAIL" + (f", {skip} SKIP" if skip else ""))
    print(f"  {rw}: " + "; ".join(parts))
def cause(test):
    """The failed assertion as one line: testify's Error/expected/actual and Messages."""
    lines = [l.strip() for l in "".join(output.get(test, [])).splitlines()]
    start = next((i for i, l in enumerate(lines) if l.startswith("Error:")), None)
    if start is None:
        return next((l for l in lines if l and not l.startswith(("===", "---"))), "no message")
    kept = []
    for l in lines[start:]:
        if not l or l.startswith(("Test:", "---", "===")):
            continue
        if l.startswith(("Error Trace:", "main_test.go", "helpers_test.go")):
            break
        kept.append(" ".join(l.split()))
    return " ".join(kept)[:300]

for rw in targets:
    failed = sorted((base, rows[(base, r)][2]) for (base, r), (level, action, _) in rows.items()
                    if r == rw and level == "MUST" and action == "fail")
    if not failed:
        continue
    print(f"  {rw}: {len(failed)} MUST failures, by cause:")
    by_cause = {}
    for base, test in failed:
        by_cause.setdefault(cause(test), []).append(base)
    for why, bases in sorted(by_cause.items(), key=lambda kv: -len(kv[1])):
        print(f"    {len(bases)} x {why}")
        for base in bases:
            print(f"      {base}")
final = [e for e in events if not e.get("Test") and e.get("Action") in ("pass", "fail")]
if final:
    print(f"  go test: {final[-1]['Action'].upper()} ({final[-1].get('Elapsed', 0)} s)")
PY
}

prometheus3=$("$here/go-tools.sh" prometheus)/prometheus

# Starts a stock Prometheus 3 (the receiver flag and nothing else) on port $prom_port. Not in a
# $(subshell): its pid must reach `pids` for the cleanup.
start_prometheus3() {
  local port dir
  port=$(free_port)
  dir=$(mktemp -d "$work/prometheus.XXXX")
  printf 'global:\n  scrape_interval: 15s\n' >"$dir/prometheus.yml"
  "$prometheus3" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
    >"$dir/log" 2>&1 &
  pids+=($!)
  wait_ready "http://127.0.0.1:$port/-/ready"
  prom_port=$port
}

receiver_suite() {
  local suite=$work/receiver.test
  build_suite "$here/modules/compliance/receiver" github.com/prometheus/complicance/remotewrite2 "$suite"
  log "building redline"
  (cd "$root" && cargo build -q -p redline --bin redline)
  local redline
  redline=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/redline

  local prom relay admin
  start_prometheus3
  prom=$prom_port
  relay=$(free_port)
  admin=$(free_port)
  "$redline" k6-relay --log-level warn --listen "127.0.0.1:$relay" --admin-addr "127.0.0.1:$admin" \
    --remote-write-url "http://127.0.0.1:$prom/api/v1/write" --testid compliance --idle-exit 0 \
    >"$work/k6-relay.log" 2>&1 &
  pids+=($!)
  wait_ready "http://127.0.0.1:$admin/ready"

  cat >"$work/receivers.yml" <<EOF
remote_write:
  - name: redline-k6-relay
    url: http://127.0.0.1:$relay/api/v1/write
  - name: prometheus-3
    url: http://127.0.0.1:$prom/api/v1/write
EOF
  log "running the receiver suite against redline-k6-relay and prometheus-3 ($("$prometheus3" --version | head -n1))"
  PROMETHEUS_RW2_COMPLIANCE_CONFIG_FILE=$work/receivers.yml run_suite "$suite" "$out/receiver.json" -test.timeout 10m
  echo "receiver suite ($(grep -h 'remotewrite2 v' "$here/modules/compliance/receiver/go.mod" | awk '{print $2, $3}')):"
  summarise "$out/receiver.json"
}

sender_suite() {
  local suite=$work/sender.test
  build_suite "$here/modules/compliance/sender" github.com/prometheus/compliance/remotewrite/sender "$suite"
  # The suite downloads Prometheus 3.9.1 into ./bin unless that file is there: it gets the
  # pinned Prometheus 3 instead (no download, and the version the receivers are tested with).
  mkdir -p "$work/bin"
  ln -sf "$prometheus3" "$work/bin/prometheus-3.9.1.linux-amd64"
  log "running the sender suite against prometheus ($("$prometheus3" --version | head -n1))"
  # Only TestCompliance: at this version the suite's other tests are placeholders that fail
  # with "TODO: Remove" (its move to a programmatic API was under way).
  run_suite "$suite" "$out/sender.json" -test.run '^TestCompliance$' -test.timeout 10m
  echo "sender suite ($(grep -h 'compliance/remotewrite v' "$here/modules/compliance/sender/go.mod" | awk '{print $2, $3}')):"
  summarise "$out/sender.json"
}

case $what in
  receiver) receiver_suite ;;
  sender) sender_suite ;;
  all)
    receiver_suite
    sender_suite
    ;;
esac
log "results (go test -json) in $out/"
