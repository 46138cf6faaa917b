#!/usr/bin/env bash
# The Knative scaling seed's request payloads, made as its README makes them (random bytes
# from /dev/urandom, sizes in IEC units): none (empty), 10K, 100K and 1000K, written to DIR.
# With --configmaps NAMESPACE it also (re)creates the ConfigMaps the chart mounts for
# http-load (httpLoad.payloads): redline-payloads (none, 10K, 100K) and redline-payload-1000k
# (1000K alone: a ConfigMap holds at most 1 MiB).
#
#   hack/knative-payloads.sh [DIR] [--configmaps NAMESPACE]     (default DIR: payload)
set -euo pipefail
dir=payload ns=""
while (($#)); do
  case $1 in
    --configmaps) ns=${2:?--configmaps needs a namespace}; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) dir=$1; shift ;;
  esac
done
mkdir -p "$dir"
: >"$dir/none"
for size in 10K 100K 1000K; do
  head -c "$(numfmt --from=iec "$size")" </dev/urandom >"$dir/$size"
done
ls -l "$dir" >&2
if [[ -n $ns ]]; then
  kubectl=${KUBECTL:-kubectl}
  create() { # name files...
    local name=$1
    shift
    local args=()
    for f in "$@"; do args+=("--from-file=$f=$dir/$f"); done
    "$kubectl" -n "$ns" create configmap "$name" "${args[@]}" --dry-run=client -o yaml |
      "$kubectl" -n "$ns" apply --server-side --field-manager=redline-payloads -f - >&2
  }
  create redline-payloads none 10K 100K
  create redline-payload-1000k 1000K
fi
