#!/usr/bin/env bash
# Prints COUNT fake Node objects for KWOK's controller, as KWOK's documentation makes them:
# annotation kwok.x-k8s.io/node=fake (what up.sh's kwok manages), label type=kwok, taint
# kwok.x-k8s.io/node=fake:NoSchedule (only pods that tolerate it land there), and a large
# capacity. The podCIDR is left to the controller manager's node IPAM, as on a real cluster.
# The metrics.k8s.io/resource-metrics-path annotation tells metrics-server where KWOK's
# emulated kubelet serves this node's /metrics/resource.
#
#   hack/cluster/kwok-nodes.sh COUNT [FIRST_INDEX] | kubectl create -f -
#   POD_CIDR_PREFIX=10.100   give node i the podCIDR 10.100.(16 i).0/20 instead (a cluster
#                            without node IPAM: hack/k3d-linkerd.sh; up to 16 nodes per /16)
#   CAPACITY='cpu: "64", memory: 512Gi, pods: "4000"'   each node's capacity (default below)
set -euo pipefail
count=${1:?usage: kwok-nodes.sh COUNT [FIRST_INDEX]}
first=${2:-0}
capacity=${CAPACITY:-'cpu: "32", memory: 256Gi, pods: "1000"'}
for ((i = first; i < first + count; i++)); do
  name=kwok-node-$i
  pod_cidrs= # extra lines under spec:
  if [[ -n ${POD_CIDR_PREFIX:-} ]]; then
    cidr="$POD_CIDR_PREFIX.$((i * 16)).0/20"
    pod_cidrs=$'\n  podCIDR: '"$cidr"$'\n  podCIDRs: ['"$cidr]"
  fi
  cat <<YAML
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/$name/metrics/resource
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $name
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
spec:$pod_cidrs
  taints:
  - key: kwok.x-k8s.io/node
    value: fake
    effect: NoSchedule
status:
  allocatable: {$capacity}
  capacity: {$capacity}
  nodeInfo: {architecture: amd64, operatingSystem: linux}
YAML
done
