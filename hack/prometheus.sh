#!/usr/bin/env bash
# A local Prometheus for the quickstart and for trying redline by hand: remote-write
# receiver and native histograms on, every rule file in alerts/ loaded, data under
# .redline/prometheus.
#   hack/prometheus.sh start [PORT]   (default 9090; prints the URL)
#   hack/prometheus.sh stop
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.redline/prometheus"
cmd=${1:-start}
port=${2:-${REDLINE_PROMETHEUS_PORT:-9090}}

case $cmd in
start)
  mkdir -p "$dir/data"
  if [[ -f $dir/pid ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "prometheus already running (pid $(cat "$dir/pid")) at $(cat "$dir/url")"
    exit 0
  fi
  {
    echo "global:"
    echo "  scrape_interval: 5s"
    echo "  evaluation_interval: 2s"
    echo "rule_files:"
    for f in "$root"/alerts/*.yml; do echo "  - \"$f\""; done
    echo "scrape_configs: []"
  } >"$dir/prometheus.yml"
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
    --enable-feature=native-histograms --web.enable-lifecycle --log.level=warn \
    >"$dir/prometheus.log" 2>&1 &
  echo $! >"$dir/pid"
  echo "http://127.0.0.1:$port" >"$dir/url"
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
      echo "prometheus ready at http://127.0.0.1:$port (rules: alerts/*.yml; log: $dir/prometheus.log)"
      exit 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "prometheus exited; its log:" >&2
      cat "$dir/prometheus.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "prometheus did not become ready in 20 s; log: $dir/prometheus.log" >&2
  exit 1
  ;;
stop)
  if [[ -f $dir/pid ]]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
  fi
  ;;
*)
  echo "usage: hack/prometheus.sh start [PORT] | stop" >&2
  exit 2
  ;;
esac
