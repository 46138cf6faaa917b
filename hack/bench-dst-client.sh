#!/usr/bin/env bash
# Benchmark of redline dst-client: streams one process holds (memory and CPU per 1,000
# streams) and update fan-out throughput against the in-process test servers (which run
# in a child process, so the figures are the client's alone).
#
#   hack/bench-dst-client.sh                                   # 50 services x 500 = 25,000 streams
#   BENCH_SERVICES=100 BENCH_STREAMS_PER_SERVICE=100 hack/bench-dst-client.sh   # 10,000
#   BENCH_ENDPOINTS=50 BENCH_CONNECTIONS=64 hack/bench-dst-client.sh
#
# Goal (the plan's red-line, Scenario 5): 25,000 streams in one process under 1 GiB.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_SERVICES=${BENCH_SERVICES:-50}
export BENCH_STREAMS_PER_SERVICE=${BENCH_STREAMS_PER_SERVICE:-500}
export BENCH_ENDPOINTS=${BENCH_ENDPOINTS:-100}
export BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-0}
exec cargo bench -p redline-e2e --bench dst_client_streams
