#!/usr/bin/env bash
# Real-cluster setup for the Linkerd destination load test (seeds/linkerd-destination-load-test-plan.md):
# k3d cluster(s), KWOK (controller + stage-fast, fake nodes with large podCIDRs), Linkerd, and
# optionally a second cluster on a flat network linked with Linkerd multicluster.
#
#   hack/k3d-linkerd.sh                  # one cluster "redline-src"
#   MULTICLUSTER=1 hack/k3d-linkerd.sh   # + "redline-tgt", flat network, link tgt -> src
#   hack/k3d-linkerd.sh delete           # delete the cluster(s) and the network
#
# Knobs: SRC/TGT (cluster names), KWOK_NODES (fake nodes per cluster, default 10),
# KWOK_VERSION, LINKERD_CHANNEL (stable|edge, for the installer), IMAGE (redline image to
# import, default redline:dev; built by hack/k3d-image.sh; IMPORT_IMAGE=0 skips).
# Needs: docker, k3d, kubectl, linkerd CLI (https://run.linkerd.io/install), step (smallstep
# CLI, for the shared trust anchor), curl.
#
# Not run in redline's CI: no Docker engine or Kubernetes is available there. Written
# carefully (set -euo pipefail, shellcheck-clean) and to be tried on a workstation.
set -euo pipefail
HACK=$(cd "$(dirname "$0")" && pwd)

SRC=${SRC:-redline-src}
TGT=${TGT:-redline-tgt}
NETWORK=${NETWORK:-redline-flat}
MULTICLUSTER=${MULTICLUSTER:-0}
KWOK_NODES=${KWOK_NODES:-10}
KWOK_VERSION=${KWOK_VERSION:-v0.7.0}
IMAGE=${IMAGE:-redline:dev}
IMPORT_IMAGE=${IMPORT_IMAGE:-1}
CERTS=${CERTS:-${TMPDIR:-/tmp}/redline-linkerd-certs}

# Distinct ranges per cluster so a flat network can route between them. Fake (KWOK) pod
# IPs come from the fake nodes' podCIDRs: /20 each (4,094 pods per node).
SRC_CLUSTER_CIDR=10.42.0.0/16 SRC_SERVICE_CIDR=10.43.0.0/16 SRC_FAKE_PREFIX=10.100
TGT_CLUSTER_CIDR=10.52.0.0/16 TGT_SERVICE_CIDR=10.53.0.0/16 TGT_FAKE_PREFIX=10.110

log() { printf 'k3d-linkerd: %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { log "missing $1: $2"; exit 1; }; }
ctx() { printf 'k3d-%s' "$1"; }

if [[ ${1:-} == delete ]]; then
  need k3d "https://k3d.io"
  k3d cluster delete "$SRC" || true
  [[ $MULTICLUSTER == 1 ]] && { k3d cluster delete "$TGT" || true; }
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
  exit 0
fi

need docker "https://docs.docker.com/engine/install/"
need k3d "https://k3d.io"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
need linkerd "curl -sL https://run.linkerd.io/install | sh"
need curl "apt-get install -y curl"
[[ $MULTICLUSTER == 1 ]] && need step "https://smallstep.com/docs/step-cli/installation/"

create_cluster() { # name cluster-cidr service-cidr
  local name=$1 pods=$2 svcs=$3
  if k3d cluster list "$name" >/dev/null 2>&1; then
    log "cluster $name exists"
    return
  fi
  log "creating cluster $name (pods $pods, services $svcs)"
  k3d cluster create "$name" \
    --network "$NETWORK" \
    --servers 1 --agents 0 \
    --k3s-arg "--cluster-cidr=$pods@server:0" \
    --k3s-arg "--service-cidr=$svcs@server:0" \
    --k3s-arg "--disable=traefik@server:0" \
    --k3s-arg "--kube-apiserver-arg=max-requests-inflight=800@server:0" \
    --k3s-arg "--kube-apiserver-arg=max-mutating-requests-inflight=400@server:0" \
    --wait
}

install_kwok() { # context fake-prefix
  local c=$1 prefix=$2
  log "installing KWOK $KWOK_VERSION in $c"
  local base="https://github.com/kubernetes-sigs/kwok/releases/download/$KWOK_VERSION"
  kubectl --context "$c" apply -f "$base/kwok.yaml"
  # stage-fast: pods go Running/Ready at once, nodes heartbeat.
  kubectl --context "$c" apply -f "$base/stage-fast.yaml"
  kubectl --context "$c" -n kube-system rollout status deploy/kwok-controller --timeout=180s
  # The nodes hack/cluster/up.sh makes, with their own podCIDRs: $prefix.0.0/20,
  # $prefix.16.0/20, ... (up to 16 nodes per /16), and more room for pods.
  POD_CIDR_PREFIX=$prefix CAPACITY='cpu: "64", memory: 512Gi, pods: "4000"' \
    "$HACK/cluster/kwok-nodes.sh" "$KWOK_NODES" | kubectl --context "$c" apply -f -
}

make_certs() {
  [[ -f $CERTS/ca.crt ]] && return
  log "creating a shared Linkerd trust anchor in $CERTS"
  mkdir -p "$CERTS"
  step certificate create root.linkerd.cluster.local "$CERTS/ca.crt" "$CERTS/ca.key" \
    --profile root-ca --no-password --insecure
  step certificate create identity.linkerd.cluster.local "$CERTS/issuer.crt" "$CERTS/issuer.key" \
    --profile intermediate-ca --not-after 8760h --no-password --insecure \
    --ca "$CERTS/ca.crt" --ca-key "$CERTS/ca.key"
}

install_linkerd() { # context
  local c=$1
  log "installing Linkerd in $c"
  kubectl --context "$c" apply -f <(linkerd --context "$c" install --crds)
  if [[ $MULTICLUSTER == 1 ]]; then
    make_certs
    kubectl --context "$c" apply -f <(linkerd --context "$c" install \
      --identity-trust-anchors-file "$CERTS/ca.crt" \
      --identity-issuer-certificate-file "$CERTS/issuer.crt" \
      --identity-issuer-key-file "$CERTS/issuer.key")
  else
    kubectl --context "$c" apply -f <(linkerd --context "$c" install)
  fi
  linkerd --context "$c" check --wait 5m
}

node_ip() { # cluster
  docker inspect -f "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAddress}}" "k3d-$1-server-0"
}

flat_network() {
  # Pod-to-pod routing: each cluster's node routes the other's pod CIDR via the other node.
  local src_ip tgt_ip
  src_ip=$(node_ip "$SRC")
  tgt_ip=$(node_ip "$TGT")
  log "flat network: $SRC_CLUSTER_CIDR via $src_ip, $TGT_CLUSTER_CIDR via $tgt_ip"
  docker exec "k3d-$SRC-server-0" ip route replace "$TGT_CLUSTER_CIDR" via "$tgt_ip"
  docker exec "k3d-$TGT-server-0" ip route replace "$SRC_CLUSTER_CIDR" via "$src_ip"
}

link_clusters() {
  log "multicluster: link $TGT -> $SRC (pod-to-pod, no gateway)"
  local c
  for c in "$(ctx "$SRC")" "$(ctx "$TGT")"; do
    kubectl --context "$c" apply -f <(linkerd --context "$c" multicluster install --gateway=false)
    linkerd --context "$c" multicluster check --wait 5m || true
  done
  # The link reads the target's API server address from its kubeconfig; inside the
  # network the target's API server is its server node on 6443.
  local api
  api="https://$(node_ip "$TGT"):6443"
  kubectl --context "$(ctx "$SRC")" apply -f <(
    linkerd --context "$(ctx "$TGT")" multicluster link \
      --cluster-name target --gateway=false --api-server-address "$api"
  )
  linkerd --context "$(ctx "$SRC")" multicluster check --wait 5m
  # dst-client in the source watches churn's annotations in the target: give it a
  # kubeconfig for the target (read-only use; see hack/linkerd-scenarios.sh).
  local kc=${TMPDIR:-/tmp}/redline-target.kubeconfig
  k3d kubeconfig get "$TGT" | sed "s#server: https://.*#server: $api#" >"$kc"
  log "target kubeconfig for dst-client: $kc"
}

import_image() { # cluster
  [[ $IMPORT_IMAGE == 1 ]] || return 0
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    k3d image import "$IMAGE" --cluster "$1"
  else
    log "image $IMAGE not found locally (hack/k3d-image.sh builds it); skipping import"
  fi
}

docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create "$NETWORK" >/dev/null

create_cluster "$SRC" "$SRC_CLUSTER_CIDR" "$SRC_SERVICE_CIDR"
install_kwok "$(ctx "$SRC")" "$SRC_FAKE_PREFIX"
install_linkerd "$(ctx "$SRC")"
import_image "$SRC"

if [[ $MULTICLUSTER == 1 ]]; then
  create_cluster "$TGT" "$TGT_CLUSTER_CIDR" "$TGT_SERVICE_CIDR"
  install_kwok "$(ctx "$TGT")" "$TGT_FAKE_PREFIX"
  # Linkerd's control plane in the target only provides the credentials and the
  # multicluster service account the link uses; the workloads there are not meshed.
  install_linkerd "$(ctx "$TGT")"
  import_image "$TGT"
  flat_network
  link_clusters
fi

log "done. Source context: $(ctx "$SRC")$([[ $MULTICLUSTER == 1 ]] && printf ', target context: %s' "$(ctx "$TGT")")"
log "next: hack/linkerd-scenarios.sh"
