#!/usr/bin/env bash
# Builds the redline image and loads it into a local k3d or kind cluster, so the chart can
# run it without a registry:
#   hack/k3d-image.sh                      # k3d cluster "redline", image redline:dev
#   CLUSTER=dev TOOL=kind hack/k3d-image.sh
#   IMAGE=redline TAG=abc123 hack/k3d-image.sh
# Then: helm install redline charts/redline --set image.repository=$IMAGE \
#         --set image.tag=$TAG --set image.pullPolicy=Never -f charts/redline/scenarios/<x>.yaml
# Needs docker (or a docker-compatible CLI via DOCKER=podman) and k3d or kind.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-redline}
TAG=${TAG:-dev}
CLUSTER=${CLUSTER:-redline}
DOCKER=${DOCKER:-docker}
TOOL=${TOOL:-}

if [[ -z $TOOL ]]; then
  if command -v k3d >/dev/null 2>&1; then TOOL=k3d
  elif command -v kind >/dev/null 2>&1; then TOOL=kind
  else
    echo "k3d-image: neither k3d nor kind is on PATH (set TOOL=k3d|kind)" >&2
    exit 1
  fi
fi
command -v "$DOCKER" >/dev/null 2>&1 || { echo "k3d-image: $DOCKER is not on PATH" >&2; exit 1; }

ref="$IMAGE:$TAG"
echo "k3d-image: building $ref"
DOCKER_BUILDKIT=1 "$DOCKER" build -t "$ref" .

case $TOOL in
  k3d)
    k3d cluster list "$CLUSTER" >/dev/null 2>&1 || {
      echo "k3d-image: no k3d cluster named $CLUSTER (k3d cluster create $CLUSTER)" >&2
      exit 1
    }
    k3d image import "$ref" --cluster "$CLUSTER"
    ;;
  kind)
    kind get clusters | grep -qx "$CLUSTER" || {
      echo "k3d-image: no kind cluster named $CLUSTER (kind create cluster --name $CLUSTER)" >&2
      exit 1
    }
    kind load docker-image "$ref" --name "$CLUSTER"
    ;;
  *)
    echo "k3d-image: TOOL must be k3d or kind, not $TOOL" >&2
    exit 1
    ;;
esac

echo "k3d-image: $ref is in $TOOL cluster $CLUSTER; install with"
echo "  helm install redline charts/redline --set image.repository=$IMAGE --set image.tag=$TAG --set image.pullPolicy=Never"
