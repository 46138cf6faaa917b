#!/usr/bin/env bash
# The test command (README, and what .ci/run calls): installs what the tests need,
# then runs every test: Rust (unit, integration against a real Prometheus, k6,
# Locust, Chromium, the in-process Kubernetes/Destination servers), promtool rule
# tests, and the Helm chart tests.
set -euo pipefail
cd "$(dirname "$0")/.."

hack/install-deps.sh test
export PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"

echo "== cargo test"
cargo test --workspace --no-fail-fast

echo "== promtool: alert rules"
alerts/check.sh

if [[ -d charts/tests ]]; then
  echo "== chart tests"
  python3 -m pytest charts/tests -q
fi
