#!/usr/bin/env bash
# Prints the folder holding Knative Serving's CRDs (services, configurations, revisions,
# routes, ... as YAML) from its published Go module, pinned by hack/modules/knative/go.mod
# and checked against go.sum by `go mod download`. Nothing is built or kept here; the
# module lands in Go's module cache.
#
#   hack/knative-crds.sh        -> e.g. ~/go/pkg/mod/knative.dev/serving@v0.42.2/config/core/300-resources
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mod=$here/modules/knative
command -v go >/dev/null || { echo "knative-crds.sh: go is missing (hack/install-deps.sh installs it)" >&2; exit 2; }
version=$(awk '$1 == "require" && $2 == "knative.dev/serving" { print $3 }' "$mod/go.mod")
[[ -n $version ]] || { echo "knative-crds.sh: no knative.dev/serving in $mod/go.mod" >&2; exit 2; }
dir=$(cd "$mod" && go mod download -json "knative.dev/serving@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
crds=$dir/config/core/300-resources
[[ -f $crds/service.yaml ]] || { echo "knative-crds.sh: $crds/service.yaml not in the module" >&2; exit 1; }
echo "$crds"
