#!/usr/bin/env bash
# The test command (README, and what .ci/run calls): installs what the tests need,
# then runs every test: Rust (unit, integration against a real Prometheus, k6,
# Locust, Chromium, a real Kubernetes control plane from hack/cluster, the in-process
# Kubernetes/Destination servers), promtool rule tests, and the Helm chart tests.
set -euo pipefail
cd "$(dirname "$0")/.."

hack/install-deps.sh test
export PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"

# A real Kubernetes control plane for the tests that need one (testkit-cluster), in a temp
# dir, stopped whatever happens. up.sh prints how long the binaries took (built or cached)
# and how long the cluster took to be ready.
echo "== local Kubernetes control plane (hack/cluster/up.sh)"
cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/redline-cluster.XXXXXX")
stop_cluster() {
  local status=$?
  hack/linkerd/down.sh "$cluster_dir" || true
  hack/cluster/down.sh "$cluster_dir" || true
  if ((status == 0)); then
    rm -rf "$cluster_dir"
  else
    echo "the control plane's logs are kept in $cluster_dir/logs" >&2
  fi
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM
hack/cluster/up.sh "$cluster_dir"
export REDLINE_TEST_KUBECONFIG=$cluster_dir/kubeconfig
# Linkerd's real destination controller on that control plane (exporters/e2e/tests/linkerd_destination.rs).
echo "== Linkerd destination controller (hack/linkerd/up.sh)"
hack/linkerd/up.sh "$cluster_dir"
# shellcheck disable=SC1091
. "$cluster_dir/linkerd/env"
export REDLINE_TEST_LINKERD_DST=$LINKERD_DST_ADDR REDLINE_TEST_LINKERD_PID=$LINKERD_DST_PID
export REDLINE_TEST_LINKERD_METRICS=$LINKERD_METRICS_URL

echo "== Prometheus 3 (hack/go-tools.sh prometheus; built once, cached)"
hack/go-tools.sh prometheus >/dev/null

# Every tier runs even when an earlier one failed, so one failure does not hide another;
# the script fails at the end, naming the tiers that failed.
FAILED=()
tier() { # name cmd...
  local name=$1; shift
  echo "== $name"
  "$@" || FAILED+=("$name")
}

tier "cargo test (Prometheus-backed tests against Debian's Prometheus 2.42)" \
  cargo test --workspace --no-fail-fast

# Most users run Prometheus 3 (kube-prometheus-stack ships it): the remote-write client, the
# runtime's push path and the harness's own receiver tests run again against 3.x. (Tests that
# need one version whatever this says, such as the stock-receiver tests, pin it themselves.)
tier "cargo test against Prometheus 3 (REDLINE_TEST_PROMETHEUS=3)" \
  env REDLINE_TEST_PROMETHEUS=3 cargo test --no-fail-fast \
  -p redline-remote-write -p redline-runtime -p redline-testkit-prometheus -p redline-k6-relay

tier "promtool: alert rules" alerts/check.sh
tier "chart tests" python3 -m pytest charts/tests -q
tier "Docker build context (.dockerignore under Docker's own rules)" python3 -m pytest hack/tests -q

# The HTTP benchmark's quick mode: every protocol row with every peer (wrk, h2load, oha, k6)
# against nginx; fails on a crash or on a count that the summary, Prometheus and nginx's log
# do not agree on, never on a time. (It installs its own peers: apt, pip, cargo install oha.)
tier "hack/bench-http.sh --quick" hack/bench-http.sh --quick

if ((${#FAILED[@]})); then
  printf 'FAILED tier: %s\n' "${FAILED[@]}" >&2
  exit 1
fi
echo "every tier passed"
