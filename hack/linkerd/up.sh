#!/usr/bin/env bash
# Linkerd's real destination controller (the `destination` subcommand of controller/cmd,
# built from the linkerd2 module pinned in hack/modules/linkerd) run out of cluster against
# the local control plane of hack/cluster/up.sh, serving Destination.Get on loopback.
#
#   hack/linkerd/up.sh [STATE_DIR]      (default .redline/cluster; starts the cluster there
#                                        first if it is not running)
#   TIMEOUT=120   seconds to wait for the controller's /ready
#
# Before starting it: applies the CRDs rendered from the same release's charts/linkerd-crds
# with real Helm (render-crds.py) and creates the `linkerd` namespace it watches for
# multicluster credentials. Writes STATE_DIR/linkerd/env (`. STATE_DIR/linkerd/env`:
# LINKERD_DST_ADDR, LINKERD_METRICS_URL, LINKERD_DST_PID) and STATE_DIR/linkerd/destination.log.
# hack/linkerd/down.sh STATE_DIR stops it (and only it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
state=${1:-$root/.redline/cluster}
timeout=${TIMEOUT:-120}
mkdir -p "$state"
state=$(cd "$state" && pwd)
dir=$state/linkerd
# shellcheck source=../cluster/lib.sh
. "$root/hack/cluster/lib.sh"

if pid=$(cluster_pid "$dir" destination); then
  echo "linkerd destination already running in $dir (pid $pid)"
  exit 0
fi
if ! cluster_pid "$state" kube-apiserver >/dev/null; then
  "$root/hack/cluster/up.sh" "$state"
fi
# shellcheck disable=SC1091
. "$state/env"
kubectl=$REDLINE_CLUSTER_BIN/kubectl

bin=$("$root/hack/go-tools.sh" linkerd)
module_dir=$(cd "$root/hack/modules/linkerd" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/linkerd/linkerd2)
version=$(cd "$root/hack/modules/linkerd" && GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' github.com/linkerd/linkerd2)

mkdir -p "$dir/pids"
python3 "$here/render-crds.py" "$module_dir" >"$dir/crds.yaml"
"$kubectl" apply --server-side --field-manager=redline-linkerd-up -f "$dir/crds.yaml" >/dev/null
"$kubectl" wait --for=condition=Established --timeout=60s -f "$dir/crds.yaml" >/dev/null
"$kubectl" create namespace linkerd --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null

read -r grpc_port metrics_port < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)

# The admin kubeconfig of the local cluster: the controller only reads (informers on
# Endpoints, EndpointSlices, Pods, Services, ServiceProfiles, Jobs, Servers, Nodes,
# ReplicaSets and the `linkerd` namespace's Secrets); in a mesh its ClusterRole grants that.
"$bin/linkerd-controller" destination \
  -addr="127.0.0.1:$grpc_port" -metrics-addr="127.0.0.1:$metrics_port" \
  -kubeconfig="$KUBECONFIG" -controller-namespace=linkerd \
  -enable-endpoint-slices=true -cluster-domain=cluster.local -identity-trust-domain=cluster.local \
  -enable-pprof=true -log-level=info \
  </dev/null >"$dir/destination.log" 2>&1 &
pid=$!
echo "$pid $(readlink -f "$bin/linkerd-controller")" >"$dir/pids/destination.pid"

deadline=$((SECONDS + timeout))
until curl -fsS --max-time 2 "http://127.0.0.1:$metrics_port/ready" >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "up.sh: linkerd destination exited; the end of $dir/destination.log:" >&2
    tail -n 25 "$dir/destination.log" >&2
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "up.sh: linkerd destination not ready after ${timeout} s; see $dir/destination.log" >&2
    "$here/down.sh" "$state" >&2 || true
    exit 1
  fi
  sleep 0.25
done
{
  echo "# written by hack/linkerd/up.sh; \`. $dir/env\`"
  echo "LINKERD_VERSION=$version"
  echo "LINKERD_DST_ADDR=127.0.0.1:$grpc_port"
  echo "LINKERD_METRICS_URL=http://127.0.0.1:$metrics_port/metrics"
  echo "LINKERD_DST_PID=$pid"
} >"$dir/env"
echo "linkerd destination ($version) ready on 127.0.0.1:$grpc_port, metrics on 127.0.0.1:$metrics_port (pid $pid)"
