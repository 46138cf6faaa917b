#!/usr/bin/env bash
# A real Kubernetes control plane as plain processes on 127.0.0.1, with KWOK's fake nodes:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK's controller and
# metrics-server, each built from its pinned Go module by hack/go-tools.sh.
#
#   hack/cluster/up.sh [STATE_DIR]     (default .redline/cluster)
#   NODES=4        KWOK nodes to create
#   METRICS=1      start metrics-server and register metrics.k8s.io (0: leave it out)
#   TIMEOUT=300    seconds to wait for the cluster to be ready before giving up
#
# Writes STATE_DIR/kubeconfig (admin, O=system:masters), STATE_DIR/env (KUBECONFIG, ports,
# pids; `. STATE_DIR/env`), STATE_DIR/logs/<component>.log, and prints
# "cluster ready in N.N s". Every start is an empty cluster (etcd's data is wiped); the
# certificates in STATE_DIR/pki are kept. hack/cluster/down.sh STATE_DIR stops it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
state=${1:-$root/.redline/cluster}
nodes=${NODES:-4}
metrics=${METRICS:-1}
timeout=${TIMEOUT:-300}
[[ $nodes =~ ^[0-9]+$ && $nodes -ge 1 ]] || { echo "up.sh: NODES must be a whole number >= 1, not '$nodes'" >&2; exit 2; }
[[ $timeout =~ ^[0-9]+$ ]] || { echo "up.sh: TIMEOUT must be whole seconds, not '$timeout'" >&2; exit 2; }
mkdir -p "$state"
state=$(cd "$state" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

# Cluster-internal address ranges; nothing is routed to them (there is no kube-proxy or
# CNI), they only have to be valid and apart. A /22 per node leaves room for its 1000 pods.
service_cidr=10.96.0.0/16
service_ip=10.96.0.1
cluster_cidr=10.244.0.0/16
node_cidr_mask=22
# Written into the `kubernetes` Service's endpoints and never dialled: Endpoints refuse
# loopback addresses, and clients here reach the API server at 127.0.0.1.
advertise_address=198.51.100.1

# --- already running? -------------------------------------------------------------------
running=() stopped=()
for c in "${CLUSTER_COMPONENTS[@]}"; do
  [[ -f $state/pids/$c.pid ]] || continue
  if cluster_pid "$state" "$c" >/dev/null; then running+=("$c"); else stopped+=("$c"); fi
done
if ((${#running[@]})) && ((${#stopped[@]} == 0)); then
  echo "cluster already running in $state (${running[*]}); KUBECONFIG=$state/kubeconfig"
  exit 0
fi
if ((${#running[@]})); then
  echo "up.sh: cluster in $state is partly running (${running[*]}; exited: ${stopped[*]});" \
    "see $state/logs, then run hack/cluster/down.sh $state" >&2
  exit 1
fi

# --- binaries ---------------------------------------------------------------------------
build_start=$EPOCHREALTIME
k8s_bin=$("$root/hack/go-tools.sh" kubernetes)
etcd_bin=$("$root/hack/go-tools.sh" etcd)
kwok_dir=$("$root/hack/go-tools.sh" kwok)
ms_dir=""
[[ $metrics == 0 ]] || ms_dir=$("$root/hack/go-tools.sh" metrics-server)
command -v openssl >/dev/null || { echo "up.sh: openssl is missing (hack/install-deps.sh test installs it)" >&2; exit 2; }
kubectl=$k8s_bin/kubectl
echo "binaries ready in $(awk -v a="$build_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"

# --- state dir --------------------------------------------------------------------------
start_time=$EPOCHREALTIME
deadline=$((SECONDS + timeout))
rm -rf "$state/etcd" "$state/pids" "$state/logs"
mkdir -p "$state/pids" "$state/logs"
"$here/pki.sh" "$state/pki" "$service_ip"
pki=$state/pki

# Seven distinct free ports, held open together while chosen so no two are the same.
read -r etcd_port etcd_peer_port api_port kcm_port sched_port kwok_port ms_port < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(7)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)
api=https://127.0.0.1:$api_port

write_kubeconfig() { # file user cert-name
  cat >"$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: redline-local
  cluster:
    server: $api
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$pki/$3.crt")
    client-key-data: $(base64 -w0 "$pki/$3.key")
contexts:
- name: redline-local
  context: {cluster: redline-local, user: $2}
current-context: redline-local
YAML
  chmod 0600 "$1"
}
write_kubeconfig "$state/kubeconfig" redline-admin admin
write_kubeconfig "$state/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
write_kubeconfig "$state/scheduler.kubeconfig" system:kube-scheduler scheduler
write_kubeconfig "$state/kwok.kubeconfig" system:kwok-controller kwok
write_kubeconfig "$state/metrics-server.kubeconfig" system:metrics-server metrics-server-client

# --- processes --------------------------------------------------------------------------
started=()
start() { # name binary args...
  local name=$1 binary=$2
  shift 2
  "$binary" "$@" </dev/null >"$state/logs/$name.log" 2>&1 &
  # The canonical path: /proc/<pid>/exe shows it with every symlink resolved.
  echo "$! $(readlink -f "$binary")" >"$state/pids/$name.pid"
  started+=("$name")
  # Until the forked shell has exec'd the binary, its pid still reads as bash: wait for
  # that (milliseconds) so a liveness check never mistakes a starting process for a dead one.
  local i
  for ((i = 0; i < 200; i++)); do
    cluster_pid "$state" "$name" >/dev/null && return 0
    kill -0 "$!" 2>/dev/null || return 0 # exited already: wait_for reports it with its log
    sleep 0.01
  done
}

fail() {
  echo "up.sh: $*" >&2
  for c in "${started[@]}"; do
    if ! cluster_pid "$state" "$c" >/dev/null; then
      echo "--- $c exited; the end of $state/logs/$c.log:" >&2
      tail -n 25 "$state/logs/$c.log" >&2
    fi
  done
  echo "up.sh: stopping what was started" >&2
  "$here/down.sh" "$state" >&2 || true
  exit 1
}

# Polls "$@" until it succeeds; fails when a started process has exited or time is up.
wait_for() { # what command...
  local what=$1
  shift
  until "$@" >/dev/null 2>&1; do
    for c in "${started[@]}"; do
      cluster_pid "$state" "$c" >/dev/null || fail "$c exited while waiting for $what"
    done
    ((SECONDS < deadline)) || fail "not ready after ${timeout} s: $what"
    sleep 0.25
  done
}

api_get() { # path: GET as admin, body on stdout
  curl -fsS --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$api$1"
}

# etcd without fsync: a test cluster's data lives for one run, and fsync on a shared 2-core
# machine's disk is what makes an API server slow, not anything redline exercises.
start etcd "$etcd_bin/etcd" --name=redline --data-dir="$state/etcd" \
  --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
  --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster="redline=http://127.0.0.1:$etcd_peer_port" \
  --unsafe-no-fsync --log-level=warn
wait_for "etcd" curl -fsS --max-time 2 "http://127.0.0.1:$etcd_port/health"

start kube-apiserver "$k8s_bin/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$etcd_port" \
  --bind-address=127.0.0.1 --secure-port="$api_port" --advertise-address="$advertise_address" \
  --cert-dir="$state/pki" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
  --service-cluster-ip-range="$service_cidr" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --profiling=true \
  --requestheader-client-ca-file="$pki/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$pki/front-proxy-client.crt" --proxy-client-key-file="$pki/front-proxy-client.key"
wait_for "kube-apiserver /readyz" api_get /readyz

# The controllers the tests lean on: workloads (StatefulSets too: the chaos data checks and
# the VPS scenarios' databases are StatefulSets) and endpoints, disruption budgets and
# evictions, namespaces and garbage collection, ServiceAccounts and their tokens, node
# health and pod GC (drains), HPA, node IPAM (KWOK gives pods IPs from the node's podCIDR),
# jobs, quotas and the aggregated view/edit/admin roles.
controllers=deployment-controller,replicaset-controller,statefulset-controller
controllers+=,endpointslice-controller,endpoints-controller
controllers+=,disruption-controller,namespace-controller,garbage-collector-controller
controllers+=,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller
controllers+=,node-lifecycle-controller,taint-eviction-controller,pod-garbage-collector-controller
controllers+=,horizontal-pod-autoscaler-controller,node-ipam-controller,job-controller
controllers+=,resourcequota-controller,clusterrole-aggregation-controller
# One instance, so no leader election (it only delays a restart). API QPS above the default
# 20: churn tests create pods in bursts, and a real cluster's controllers are not the
# bottleneck redline measures.
start kube-controller-manager "$k8s_bin/kube-controller-manager" \
  --kubeconfig="$state/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$state/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$state/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$kcm_port" --cert-dir="$state/pki/controller-manager" \
  --leader-elect=false --controllers="$controllers" --use-service-account-credentials=true \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --allocate-node-cidrs=true --cluster-cidr="$cluster_cidr" --node-cidr-mask-size="$node_cidr_mask" \
  --service-cluster-ip-range="$service_cidr" \
  --kube-api-qps=100 --kube-api-burst=200

start kube-scheduler "$k8s_bin/kube-scheduler" \
  --kubeconfig="$state/scheduler.kubeconfig" \
  --authentication-kubeconfig="$state/scheduler.kubeconfig" \
  --authorization-kubeconfig="$state/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$sched_port" --cert-dir="$state/pki/scheduler" \
  --leader-elect=false

# KWOK's own stages (taken from the pinned release by go-tools.sh): nodes become Ready and
# keep a Lease, pods become Running and Ready at once, deleted pods go away. Its emulated
# kubelet serves /metrics/nodes/<node>/metrics/resource on 127.0.0.1:$kwok_port with pod
# usage from the kwok.x-k8s.io/usage-cpu / -memory annotations (1m / 1Mi otherwise).
kwok_config=()
for f in node-initialize node-heartbeat-with-lease pod-ready pod-complete pod-delete metrics-resource usage-from-annotation; do
  kwok_config+=("--config=$kwok_dir/config/$f.yaml")
done
start kwok "$kwok_dir/kwok" "${kwok_config[@]}" \
  --kubeconfig="$state/kwok.kubeconfig" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-ip=127.0.0.1 --node-port="$kwok_port" --server-address="127.0.0.1:$kwok_port" \
  --tls-cert-file="$pki/kwok-serving.crt" --tls-private-key-file="$pki/kwok-serving.key" \
  --node-lease-duration-seconds=40

if [[ $metrics != 0 ]]; then
  # RBAC first: metrics-server reads the front-proxy CA from kube-system at start and exits
  # if it may not.
  sed -e "s/\${METRICS_SERVER_PORT}/$ms_port/g" -e "s/\${CA_BUNDLE}/$(base64 -w0 "$pki/ca.crt")/" \
    "$here/metrics-server.yaml" | "$kubectl" --kubeconfig="$state/kubeconfig" apply --server-side \
    --field-manager=redline-cluster-up -f - >/dev/null || fail "applying hack/cluster/metrics-server.yaml"
  start metrics-server "$ms_dir/metrics-server" \
    --kubeconfig="$state/metrics-server.kubeconfig" \
    --authentication-kubeconfig="$state/metrics-server.kubeconfig" \
    --authorization-kubeconfig="$state/metrics-server.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$ms_port" \
    --tls-cert-file="$pki/metrics-server.crt" --tls-private-key-file="$pki/metrics-server.key" \
    --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port \
    --kubelet-certificate-authority="$pki/ca.crt" --metric-resolution=10s --kubelet-request-timeout=5s
fi

"$here/kwok-nodes.sh" "$nodes" | "$kubectl" --kubeconfig="$state/kubeconfig" create -f - >/dev/null ||
  fail "creating the KWOK nodes"

# --- env --------------------------------------------------------------------------------
pid_var() { cut -d' ' -f1 "$state/pids/$1.pid"; }
{
  echo "# written by hack/cluster/up.sh; \`. $state/env\` to use the cluster"
  echo "export KUBECONFIG=$state/kubeconfig"
  echo "REDLINE_CLUSTER_DIR=$state"
  echo "REDLINE_CLUSTER_API=$api"
  echo "REDLINE_CLUSTER_BIN=$k8s_bin"
  echo "ETCD_PORT=$etcd_port APISERVER_PORT=$api_port CONTROLLER_MANAGER_PORT=$kcm_port"
  echo "SCHEDULER_PORT=$sched_port KWOK_PORT=$kwok_port METRICS_SERVER_PORT=${ms_dir:+$ms_port}"
  echo "ETCD_PID=$(pid_var etcd) APISERVER_PID=$(pid_var kube-apiserver)"
  echo "CONTROLLER_MANAGER_PID=$(pid_var kube-controller-manager) SCHEDULER_PID=$(pid_var kube-scheduler)"
  echo "KWOK_PID=$(pid_var kwok) METRICS_SERVER_PID=${ms_dir:+$(pid_var metrics-server)}"
} >"$state/env"

# --- ready ------------------------------------------------------------------------------
nodes_ready() { # every KWOK node Ready with a podCIDR from node IPAM
  api_get "/api/v1/nodes?labelSelector=type%3Dkwok" | jq -e --argjson n "$nodes" '
    [.items[] | select(.spec.podCIDR != null)
              | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))]
    | length == $n'
}
apiservice_available() {
  api_get /apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io |
    jq -e 'any(.status.conditions[]?; .type == "Available" and .status == "True")'
}
wait_for "the default ServiceAccount" api_get /api/v1/namespaces/default/serviceaccounts/default
wait_for "$nodes KWOK nodes Ready with a podCIDR" nodes_ready
[[ $metrics == 0 ]] || wait_for "metrics.k8s.io (APIService v1beta1.metrics.k8s.io Available)" apiservice_available

echo "cluster ready in $(awk -v a="$start_time" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s" \
  "($nodes KWOK nodes${ms_dir:+, metrics-server}); KUBECONFIG=$state/kubeconfig, logs in $state/logs"
