#!/usr/bin/env bash
# The seed's five destination scenarios (seeds/linkerd-destination-load-test-plan.md),
# scaled to one small machine, against Linkerd's real destination controller on the local
# control plane: hack/cluster/up.sh (KWOK nodes) + hack/linkerd/up.sh, a local Prometheus
# 2.42 with every rule in alerts/ (remote-write receiver for churn and dst-client, and a
# scrape of the controller's own /metrics), `redline churn` + `redline dst-client
# --verify-endpoints` per scenario, and `redline verdict` over alerts/destination.yml.
# Run as `hack/linkerd-scenarios.sh --local`.
#
#   SCENARIOS="1 2 3 4 5"  which to run       HOLD=15s    the max hold (the seed: 5m)
#   FIRST_HOLD=30s the min hold (the seed: 2m)  BASELINE=45s scenario 1 (the seed: 30m)
#   NODES=4                KWOK nodes         SETTLE=15   seconds after churn ends
#   STATE=/tmp/...         cluster state dir (default: a temp dir, stopped at the end)
#   REDLINE=path           the redline binary (default: cargo build -p redline, debug)
#   KEEP=1                 leave cluster, controller and Prometheus running
#
# dst-client starts before churn creates the Services, as clients of a service being rolled
# out do: Linkerd answers NotFound until the Service exists and dst-client retries (backoff
# capped at 1 s here, so the retry does not dominate the first event's latency).
# Prints one table row per scenario: streams held (max of the streams the API says were
# open), p50/p99 change->observation latency (Prometheus, over the scenario), controller
# memory (its RSS, max over the scenario, scraped from its own /metrics), the controller's
# endpoint views, CPU seconds and update-queue overflows, the API server's EndpointSlice
# writes (scraped from its /metrics), churn events applied, dst-client's endpoint check
# (every stream = the API's EndpointSlices) and the verdict. Rows also go to $OUT (default
# STATE/scenarios.tsv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SCENARIOS=${SCENARIOS:-1 2 3 4 5}
HOLD=${HOLD:-15s}
# The first (starting-size) hold also covers creating the pods and opening the streams.
FIRST_HOLD=${FIRST_HOLD:-30s}
BASELINE=${BASELINE:-45s}
SETTLE=${SETTLE:-15}
export NODES=${NODES:-4}
state=${STATE:-$(mktemp -d "${TMPDIR:-/tmp}/redline-linkerd-local.XXXXXX")}
mkdir -p "$state"
state=$(cd "$state" && pwd)
OUT=${OUT:-$state/scenarios.tsv}
run=${RUN_ID:-local-$(date +%Y%m%d-%H%M%S)}
log() { printf 'linkerd-scenarios: %s\n' "$*" >&2; }

command -v prometheus >/dev/null || { log "prometheus is missing: apt-get install -y prometheus (hack/install-deps.sh test)"; exit 2; }
command -v jq >/dev/null || { log "jq is missing: apt-get install -y jq"; exit 2; }

prom_pid=""
cleanup() {
  [[ -n $prom_pid ]] && [[ ${KEEP:-0} != 1 ]] && kill "$prom_pid" 2>/dev/null || true
  if [[ ${KEEP:-0} != 1 ]]; then
    "$here/down.sh" "$state" >/dev/null || true
    "$root/hack/cluster/down.sh" "$state" >/dev/null || true
  fi
}
trap cleanup EXIT

# --- redline ---------------------------------------------------------------------------
if [[ -z ${REDLINE:-} ]]; then
  (cd "$root" && cargo build -q -p redline)
  REDLINE=$root/target/debug/redline
fi

# --- cluster + Linkerd's destination controller ------------------------------------------
"$here/up.sh" "$state"
# shellcheck disable=SC1091
. "$state/env"
# shellcheck disable=SC1091
. "$state/linkerd/env"
kubectl=$REDLINE_CLUSTER_BIN/kubectl

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- Prometheus --------------------------------------------------------------------------
prom_port=$(free_port)
prom=http://127.0.0.1:$prom_port
mkdir -p "$state/prometheus/data"
metrics_hostport=${LINKERD_METRICS_URL#http://}
metrics_hostport=${metrics_hostport%/metrics}
{
  echo "global: {scrape_interval: 2s, evaluation_interval: 2s}"
  echo "rule_files:"
  for f in "$root"/alerts/*.yml; do echo "  - \"$f\""; done
  cat <<YAML
scrape_configs:
  # The controller's own series (endpoints_*, grpc_server_*, endpoint_updates_*, go_*,
  # process_*), labelled like the in-cluster pod would be (alerts/destination.yml selects
  # container="destination").
  - job_name: linkerd-destination
    static_configs: [{targets: ["$metrics_hostport"], labels: {namespace: linkerd, container: destination, pod: linkerd-destination-local}}]
  # Out of cluster there is no cAdvisor: a second scrape of the same endpoint stores the RSS
  # as the working-set series redline:dst_memory_bytes reads
  # (container_memory_working_set_bytes{namespace="linkerd",container="destination"}).
  - job_name: linkerd-destination-rss
    static_configs: [{targets: ["$metrics_hostport"], labels: {namespace: linkerd, container: destination, pod: linkerd-destination-local}}]
    metric_relabel_configs:
      - {source_labels: [__name__], regex: process_resident_memory_bytes, action: keep}
      - {source_labels: [__name__], target_label: __name__, replacement: container_memory_working_set_bytes}
  # The API server's watches and request counts (the seed's watch health and endpoint churn
  # rate), with the cluster's admin client certificate; only those two families are kept
  # (the API server exposes thousands of series).
  - job_name: kube-apiserver
    scheme: https
    tls_config: {ca_file: "$REDLINE_CLUSTER_DIR/pki/ca.crt", cert_file: "$REDLINE_CLUSTER_DIR/pki/admin.crt", key_file: "$REDLINE_CLUSTER_DIR/pki/admin.key"}
    static_configs: [{targets: ["127.0.0.1:$APISERVER_PORT"]}]
    metric_relabel_configs:
      - {source_labels: [__name__], regex: "apiserver_longrunning_requests|apiserver_request_total", action: keep}
YAML
} >"$state/prometheus/prometheus.yml"
prometheus --config.file="$state/prometheus/prometheus.yml" --storage.tsdb.path="$state/prometheus/data" \
  --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver \
  --log.level=warn >"$state/prometheus/prometheus.log" 2>&1 &
prom_pid=$!
for ((i = 0; i < 120; i++)); do
  curl -fsS "$prom/-/ready" >/dev/null 2>&1 && break
  kill -0 "$prom_pid" 2>/dev/null || { log "prometheus exited: $(tail -5 "$state/prometheus/prometheus.log")"; exit 1; }
  sleep 0.25
done

q() { # instant PromQL at time $2 (default now) -> the first value or "-"
  curl -fsS --get "$prom/api/v1/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} |
    jq -r 'if (.data.result | length) == 0 then "-" else .data.result[0].value[1] end'
}
fmt() { awk -v v="$1" -v s="${2:-1}" -v d="${3:-2}" 'BEGIN { if (v == "-" || v == "NaN") print "-"; else printf "%.*f", d, v / s }'; }

# --- one scenario ------------------------------------------------------------------------
# scenario NUMBER LABEL SERVICES STREAMS_PER_SERVICE STARTING_ENDPOINTS CHURN_ARGS...
printf 'scenario\tlabel\tservices\tstreams_asked\tstreams_held\tcontroller_streams\tcontroller_views\tp50_s\tp99_s\tp999_s\tcontroller_rss_mib\tcontroller_cpu_s\tqueue_overflows\tslice_writes\tchurn_events\tendpoints_check\tverdict\n' >"$OUT"
wait_endpoints() { # namespace count: until that many ready endpoints (bounded: 180 s)
  local i got
  for ((i = 0; i < 360; i++)); do
    got=$("$kubectl" -n "$1" get endpointslices -o json |
      jq '[.items[].endpoints[]? | select(.conditions.ready != false)] | length')
    ((got >= $2)) && return 0
    sleep 0.5
  done
  return 1
}

scenario() {
  local n=$1 label=$2 services=$3 per=$4 first=$5
  shift 5
  local ns=scn-$n testid=$run-s$n start end rc_client rc_verdict check verdict
  log "scenario $n ($label): $services services x $per streams = $((services * per)) streams; churn $*"
  "$kubectl" delete namespace "$ns" --ignore-not-found --wait=true --timeout=120s >/dev/null
  "$kubectl" create namespace "$ns" >/dev/null
  local common=(--remote-write-url="$prom/api/v1/write" --push-interval=2s --testid="$testid"
    --external-label="scenario=$label" --log-format=text)
  start=$(date +%s)
  # churn first: it creates the Services at their starting size; the clients connect once
  # every EndpointSlice holds that size (the seed's clients watch existing services; a
  # stream opened before its Service exists gets NotFound and counts a connection error).
  REDLINE_LOG=warn "$REDLINE" churn "${common[@]}" --admin-addr="127.0.0.1:$(free_port)" \
    --kubeconfig="$KUBECONFIG" --namespace="$ns" --services="$services" --run-id="$testid" \
    --qps=200 --burst=400 --keep "$@" >"$state/churn-$n.log" 2>&1 &
  local churn=$!
  wait_endpoints "$ns" "$((services * first))" || log "scenario $n: the starting endpoints never all became ready"
  REDLINE_LOG=warn "$REDLINE" dst-client "${common[@]}" --admin-addr="127.0.0.1:$(free_port)" \
    --destination="$LINKERD_DST_ADDR" \
    --services="test-service-{1..$services}.$ns.svc.cluster.local:8080" \
    --streams-per-service="$per" --watch-namespace="$ns" --pod-namespace="$ns" \
    --verify-endpoints --converge-timeout=60s --backoff-max=1s \
    >"$state/dst-client-$n.log" 2>&1 &
  local client=$!
  wait "$churn" || log "scenario $n: churn failed: $(tail -3 "$state/churn-$n.log")"
  sleep "$SETTLE"
  kill -TERM "$client" 2>/dev/null || true
  rc_client=0
  wait "$client" || rc_client=$?
  end=$(date +%s)
  # dst-client exits 3 when the receiver refused samples (its verification passed: a
  # mismatch is an error of its own, logged as "differ from the API's EndpointSlices").
  if grep -q "differ from the API" "$state/dst-client-$n.log"; then
    check="FAIL($rc_client)"
    log "scenario $n: $(grep "differ from the API" "$state/dst-client-$n.log" | tail -1)"
  elif ((rc_client == 0)); then
    check=exact
  elif ((rc_client == 3)); then
    check="exact(rw-lost)"
  else
    check="FAIL($rc_client)"
    log "scenario $n: dst-client exited $rc_client: $(tail -1 "$state/dst-client-$n.log")"
  fi
  sleep 3 # one more evaluation of the rules over the last samples
  local w=$((end - start + 5))s sel="testid=\"$testid\""
  local held ctrl p50 p99 p999 rss events views cpu overflows writes
  held=$(q "max_over_time(sum(destination_client_streams_active{$sel})[$w:2s])")
  p50=$(q "histogram_quantile(0.5, sum by (le) (increase(destination_client_update_latency_seconds_bucket{$sel}[$w])))")
  p99=$(q "histogram_quantile(0.99, sum by (le) (increase(destination_client_update_latency_seconds_bucket{$sel}[$w])))")
  # The controller's own count: Get streams started and not yet handled (go-grpc-prometheus).
  ctrl=$(q "max_over_time((sum(grpc_server_started_total{grpc_method=\"Get\"}) - sum(grpc_server_handled_total{grpc_method=\"Get\"}))[$w:2s])")
  rss=$(q "max_over_time(process_resident_memory_bytes{job=\"linkerd-destination\"}[$w])")
  events=$(q "sum(max_over_time(redline_churn_scale_events_total{$sel}[$w]))")
  p999=$(q "histogram_quantile(0.999, sum by (le) (increase(destination_client_update_latency_seconds_bucket{$sel}[$w])))")
  # The controller's side (alerts/destination.yml reads the same series): endpoint views
  # (2.14: endpoints_subscribers) as the rules attribute them to this run, CPU seconds spent,
  # update-queue overflows (2.14's send timeouts), and the EndpointSlice writes it had to follow.
  views=$(q "max_over_time(redline:dst_controller_views{$sel}[$w])")
  cpu=$(q "sum(increase(process_cpu_seconds_total{job=\"linkerd-destination\"}[$w]))")
  overflows=$(q "sum(increase(endpoint_updates_queue_overflow{job=\"linkerd-destination\"}[$w])) or vector(0)")
  writes=$(q "sum(increase(apiserver_request_total{resource=\"endpointslices\", verb=~\"POST|PUT|PATCH|DELETE\"}[$w]))")
  rc_verdict=0
  "$REDLINE" verdict --prometheus="$prom" --testid="$testid" --rules="$root/alerts" >"$state/verdict-$n.txt" 2>&1 || rc_verdict=$?
  if ((rc_verdict == 0)); then verdict=pass; else verdict="fail($rc_verdict)"; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$label" "$services" "$((services * per))" \
    "$(fmt "$held" 1 0)" "$(fmt "$ctrl" 1 0)" "$(fmt "$views" 1 0)" "$(fmt "$p50")" "$(fmt "$p99")" "$(fmt "$p999")" \
    "$(fmt "$rss" 1048576 1)" "$(fmt "$cpu" 1 1)" "$(fmt "$overflows" 1 0)" "$(fmt "$writes" 1 0)" "$(fmt "$events" 1 0)" \
    "$check" "$verdict" | tee -a "$OUT"
  "$kubectl" delete namespace "$ns" --wait=false >/dev/null
}

for s in $SCENARIOS; do
  case $s in
    # 1 baseline: stable endpoints, streams held for the hold.
    1) scenario 1 linkerd-baseline 10 10 20 --pattern=stable --endpoints-per-service=20 --duration="$BASELINE" ;;
    # 2 small oscillation (autoscaler): 10 services 2 <-> 20 (the seed: 10 <-> 200), 1 cycle.
    2) scenario 2 linkerd-oscillate 10 10 2 --pattern=oscillate --min-endpoints=2 --max-endpoints=20 \
      --min-hold="$FIRST_HOLD" --max-hold="$HOLD" --jitter=2s --cycles=1 ;;
    # 3 large rollout (deep fan-out): 1 service 50 -> 100 -> 50, 200 streams (the seed: 500 -> 1,000, 1,000 clients).
    3) scenario 3 linkerd-large-rollout 1 200 50 --pattern=oscillate --min-endpoints=50 --max-endpoints=100 \
      --min-hold="$FIRST_HOLD" --max-hold="$HOLD" --cycles=1 ;;
    # 4 many services (broad fan-out): 40 services 5 -> 10 -> 5, 10 streams each (the seed: 100 x 50 -> 100, 100 clients).
    4) scenario 4 linkerd-many-services 40 10 5 --pattern=oscillate --min-endpoints=5 --max-endpoints=10 \
      --min-hold="$FIRST_HOLD" --max-hold="$HOLD" --cycles=1 ;;
    # 5 red line: 10 services 20 -> 40 -> 20 with jitter, 50 streams each (the seed: 50 x 100 -> 200, 500 clients = 25,000 streams).
    5) scenario 5 linkerd-redline 10 50 20 --pattern=oscillate --min-endpoints=20 --max-endpoints=40 \
      --min-hold="$FIRST_HOLD" --max-hold="$HOLD" --jitter=5s --cycles=1 ;;
    *) log "unknown scenario '$s' (1-5)"; exit 2 ;;
  esac
done
log "table: $OUT; logs and verdicts in $state"
column -t -s $'\t' "$OUT"
