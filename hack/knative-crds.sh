#!/usr/bin/env bash
# Prints the folder holding Knative Serving's CRDs (services, configurations, revisions,
# routes, ... as YAML) from its published Go module, pinned by hack/modules/knative/go.mod
# and checked against go.sum by `go mod download`. Nothing is built or kept here; the
# module lands in Go's module cache.
#
#   hack/knative-crds.sh        -> e.g. ~/go/pkg/mod/knative.dev/serving@v0.42.2/config/core/300-resources
set -euo pipefail
hack_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$hack_dir/lib.sh"
version=$(pinned_module_version knative-crds.sh knative knative.dev/serving)
dir=$(pinned_module_dir knative knative.dev/serving "$version")
crds=$dir/config/core/300-resources
[[ -f $crds/service.yaml ]] || { echo "knative-crds.sh: $crds/service.yaml not in the module" >&2; exit 1; }
echo "$crds"
