#!/usr/bin/env bash
# Prints a folder holding Kuadrant's RateLimitPolicy and TokenRateLimitPolicy CRDs, taken
# from the Kuadrant operator's published Go module (config/crd/bases/), pinned by
# hack/modules/kuadrant/go.mod and checked against go.sum by `go mod download`. The files
# are copied into a cache keyed by the version; nothing is committed or built.
#
#   hack/kuadrant-crds.sh   -> e.g. ~/.cache/redline/kuadrant-crds/v1.2.0
#
# TokenRateLimitPolicy: taken from the module when the pinned release has it. The release
# pinned now (v1.2.0, the newest the module proxy serves here) predates it, so the cache
# then holds a stand-in made from the published RateLimitPolicy CRD under
# TokenRateLimitPolicy's names (kuadrant.io/v1alpha1, tokenratelimitpolicies): the two
# policies share the shape `redline tokens limits` patches (spec.limits.<name>.rates[i]
# {limit, window}). The stand-in carries the annotation redline.dev/derived-from saying so.
set -euo pipefail
hack_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$hack_dir/lib.sh"
version=$(pinned_module_version kuadrant-crds.sh kuadrant github.com/kuadrant/kuadrant-operator)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/redline/kuadrant-crds/$version
if [[ -f $cache/kuadrant.io_ratelimitpolicies.yaml && -f $cache/kuadrant.io_tokenratelimitpolicies.yaml ]]; then
  echo "$cache"
  exit 0
fi
dir=$(pinned_module_dir kuadrant github.com/kuadrant/kuadrant-operator "$version")
bases=$dir/config/crd/bases
[[ -f $bases/kuadrant.io_ratelimitpolicies.yaml ]] || { echo "kuadrant-crds.sh: $bases/kuadrant.io_ratelimitpolicies.yaml not in the module" >&2; exit 1; }
# Built aside and moved in whole, so a reader never sees half a folder.
mkdir -p "${cache%/*}"
tmp=$(mktemp -d "${cache%/*}/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$bases/kuadrant.io_ratelimitpolicies.yaml" "$tmp/"
if [[ -f $bases/kuadrant.io_tokenratelimitpolicies.yaml ]]; then
  cp "$bases/kuadrant.io_tokenratelimitpolicies.yaml" "$tmp/"
else
  python3 - "$bases/kuadrant.io_ratelimitpolicies.yaml" "$tmp/kuadrant.io_tokenratelimitpolicies.yaml" "$version" <<'PY'
import sys, yaml
source, target, version = sys.argv[1:]
crd = yaml.safe_load(open(source))
names = crd["spec"]["names"]
names.update(kind="TokenRateLimitPolicy", listKind="TokenRateLimitPolicyList",
             plural="tokenratelimitpolicies", singular="tokenratelimitpolicy")
names.pop("shortNames", None)
crd["metadata"]["name"] = "tokenratelimitpolicies.kuadrant.io"
crd["metadata"].setdefault("annotations", {})["redline.dev/derived-from"] = (
    f"kuadrant-operator@{version} config/crd/bases/kuadrant.io_ratelimitpolicies.yaml: "
    "that release predates TokenRateLimitPolicy; same limits schema, its names")
versions = crd["spec"]["versions"]
if len(versions) != 1:
    sys.exit(f"kuadrant-crds.sh: expected one version in {source}, found {len(versions)}")
versions[0]["name"] = "v1alpha1"
yaml.safe_dump(crd, open(target, "w"), sort_keys=False)
PY
fi
rm -rf "$cache"
mv "$tmp" "$cache"
trap - EXIT
echo "$cache"
