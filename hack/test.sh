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

echo "== cargo test"
cargo test --workspace --no-fail-fast

echo "== promtool: alert rules"
alerts/check.sh

if [[ -d charts/tests ]]; then
  echo "== chart tests"
  python3 -m pytest charts/tests -q
fi

echo "== Docker build context (.dockerignore under Docker's own rules)"
python3 -m pytest hack/tests -q
