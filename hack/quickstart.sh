#!/usr/bin/env bash
# redline quickstart: one command on a fresh machine.
#
# Installs Prometheus if missing, builds redline in release mode, starts a local Prometheus
# (remote-write receiver on, alerts/ loaded) and the demo target (a MaaS-style gateway with
# tiered rate limits) on loopback, runs a load test that steps 10 -> 25 -> 50 -> 100 VUs
# with users in three tiers, pushes every sample via remote-write, prints the per-step
# table, then asks `redline verdict` what the alert rules decided. It stops everything it
# started; --keep leaves Prometheus running so you can look around.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

keep=false
[[ ${1:-} == --keep ]] && keep=true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

hack/install-deps.sh quickstart
echo "== building redline (release)"
cargo build --release -q -p redline
bin="$root/target/release/redline"
out="$root/.redline"
mkdir -p "$out"

prom_port=${REDLINE_PROMETHEUS_PORT:-$(free_port)}
target_addr=127.0.0.1:8099
if (exec 3<>/dev/tcp/127.0.0.1/8099) 2>/dev/null; then
  echo "quickstart: 127.0.0.1:8099 is in use; the quickstart scenario sends its load there. Free it and retry." >&2
  exit 2
fi

target_pid=""
cleanup() {
  [[ -n $target_pid ]] && kill "$target_pid" 2>/dev/null && wait "$target_pid" 2>/dev/null || true
  if ! $keep; then hack/prometheus.sh stop; fi
}
trap cleanup EXIT

echo "== starting Prometheus and the demo target"
hack/prometheus.sh start "$prom_port"
prom="http://127.0.0.1:$prom_port"
"$bin" target --listen "$target_addr" --tiers exporters/http-load/scenarios/quickstart-tiers.yaml \
  >"$out/target.log" 2>&1 &
target_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://$target_addr/health" >/dev/null 2>&1 && break
  sleep 0.1
done

testid="quickstart-$(date +%s)"
echo "== load: 10 -> 25 -> 50 -> 100 VUs against the demo target (testid $testid)"
"$bin" http-load -f exporters/http-load/scenarios/quickstart.yaml \
  --remote-write-url "$prom/api/v1/write" --push-interval 1s --testid "$testid" \
  --admin-addr 127.0.0.1:0 --summary-export "$out/summary.json"

echo
echo "== verdict (what the alert rules in alerts/ decided)"
set +e
"$bin" verdict --prometheus "$prom" --testid "$testid" \
  --html "$out/report.html" --junit "$out/junit.xml" --json "$out/verdict.json"
verdict=$?
set -e

cat <<EOF2

Where to look:
  report      $out/report.html   (self-contained; open in a browser)
  k6 summary  $out/summary.json  (jq '.metrics.http_req_duration.values["p(95)"]' works on it)
  junit/json  $out/junit.xml, $out/verdict.json
  Prometheus  $prom  (try: redline:http_req_duration_seconds:p95{testid="$testid"}, ALERTS)
EOF2
if ! $keep; then
  echo "  (Prometheus is stopped at exit; run hack/quickstart.sh --keep to browse it.)"
fi
exit $verdict
