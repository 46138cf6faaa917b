#!/usr/bin/env bash
# Builds the real third-party programs the tests run, from their published Go modules, and
# prints the folder holding the binaries. Each program is pinned by a go.mod/go.sum under
# hack/modules/<name>/ (no source or binary of theirs is kept in this repository); a built
# folder is cached outside the clone, keyed by name, version and a hash of the pin and the
# build recipe, so a warm machine builds nothing.
#
#   hack/go-tools.sh <name>      build if needed, print the folder (e.g. for PATH)
#   hack/go-tools.sh --list      the names and pinned versions
#   hack/go-tools.sh --all       build every one (CI warms its cache this way)
#
# Names: kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl),
# etcd, kwok (kwok, plus KWOK's own stage and metrics files of the same release under
# config/), metrics-server, prometheus (prometheus, promtool: Prometheus 3), linkerd
# (linkerd-controller: Linkerd's destination controller and friends).
# Progress goes to stderr; stdout is only the folder. Concurrent calls are safe: one builds,
# the others wait for it (flock) and then print the same folder.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
modules=$here/modules
cache=${REDLINE_GO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/redline/bin}

# name -> "module-of-the-version binary=main-package ..." (the version is read from go.mod)
packages() {
  case $1 in
    kubernetes) echo "k8s.io/kubernetes kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler kubectl=k8s.io/kubernetes/cmd/kubectl" ;;
    etcd) echo "go.etcd.io/etcd/server/v3 etcd=go.etcd.io/etcd/server/v3" ;;
    kwok) echo "sigs.k8s.io/kwok kwok=sigs.k8s.io/kwok/cmd/kwok" ;;
    metrics-server) echo "sigs.k8s.io/metrics-server metrics-server=sigs.k8s.io/metrics-server/cmd/metrics-server" ;;
    prometheus) echo "github.com/prometheus/prometheus prometheus=github.com/prometheus/prometheus/cmd/prometheus promtool=github.com/prometheus/prometheus/cmd/promtool" ;;
    linkerd) echo "github.com/linkerd/linkerd2 linkerd-controller=github.com/linkerd/linkerd2/controller/cmd" ;;
    *) return 1 ;;
  esac
}
NAMES=(kubernetes etcd kwok metrics-server prometheus linkerd)

version_of() { # the required version of module $2 in hack/modules/$1/go.mod
  awk -v m="$2" '$1 == "require" && $2 == m { print $3 } $1 == m && $2 ~ /^v/ { print $2 }' \
    "$modules/$1/go.mod" | head -n1
}

ldflags_for() {
  local name=$1 version=$2
  local flags="-s -w"
  case $name in
    kubernetes)
      # Components compare their own version with the API server's (and KWOK reads it):
      # stamp the release they were built from, as the Kubernetes build does.
      local minor=${version#v1.}
      minor=${minor%%.*}
      flags+=" -X k8s.io/component-base/version.gitVersion=$version"
      flags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
      flags+=" -X k8s.io/component-base/version.gitTreeState=clean"
      flags+=" -X k8s.io/client-go/pkg/version.gitVersion=$version"
      ;;
    metrics-server)
      # metrics-server reports its version through client-go's version package (its Makefile
      # stamps the same variable).
      flags+=" -X k8s.io/client-go/pkg/version.gitVersion=$version"
      ;;
    kwok)
      # KWOK writes its version into every fake node's kubeletVersion ("kwok-v0.8.0").
      flags+=" -X sigs.k8s.io/kwok/pkg/consts.Version=$version"
      ;;
    prometheus)
      # The module tags Prometheus 3.x.y as v0.3xx.y; `prometheus --version` should say 3.x.y.
      local v3=${version#v0.}
      flags+=" -X github.com/prometheus/common/version.Version=3.${v3#3}"
      ;;
  esac
  echo "$flags"
}

# Go build tags. Prometheus: the tests and the harness use static and file targets only, and
# `remove_all_sd` leaves out the cloud service discoveries (AWS, Azure, GCE, Kubernetes, ...),
# about half of what the build compiles.
tags_for() {
  case $1 in
    prometheus) echo "remove_all_sd" ;;
    *) echo "" ;;
  esac
}

# Files a program needs beside its binary, taken from the same pinned module's source.
# KWOK's controller does nothing without Stage objects: its release ships the "fast" node
# and pod stages and the kubelet resource-metrics emulation as YAML, which up.sh hands to it.
copy_module_files() {
  local name=$1 module=$2 dest=$3 dir
  case $name in
    kwok)
      dir=$(cd "$modules/$name" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' "$module")
      mkdir -p "$dest/config"
      cp "$dir/kustomize/stage/node/fast/node-initialize.yaml" \
        "$dir/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
        "$dir/kustomize/stage/pod/fast/pod-ready.yaml" \
        "$dir/kustomize/stage/pod/fast/pod-complete.yaml" \
        "$dir/kustomize/stage/pod/fast/pod-delete.yaml" \
        "$dir/kustomize/metrics/resource/metrics-resource.yaml" \
        "$dir/kustomize/metrics/usage/usage-from-annotation.yaml" \
        "$dest/config/"
      chmod u+w "$dest"/config/*.yaml # the module cache is read-only
      ;;
  esac
}

build() {
  local name=$1 spec module version key out
  spec=$(packages "$name") || { echo "go-tools: unknown program '$name' (try --list)" >&2; return 2; }
  # shellcheck disable=SC2086
  set -- $spec
  module=$1
  shift
  version=$(version_of "$name" "$module")
  [[ -n $version ]] || { echo "go-tools: no version of $module in $modules/$name/go.mod" >&2; return 2; }
  local ldflags
  ldflags=$(ldflags_for "$name" "$version")
  local tags
  tags=$(tags_for "$name")
  # The key covers everything that changes the result: the pin (go.mod with its replace
  # lines, go.sum) and the recipe (packages, flags). A go.sum-only key kept stale binaries
  # when a replace line or a flag changed.
  key=$({
    cat "$modules/$name/go.mod" "$modules/$name/go.sum"
    echo "$spec|$ldflags|tags=$tags|CGO_ENABLED=0|$(declare -f copy_module_files)"
  } | sha256sum | cut -c1-12)
  out=$cache/$name-$version-$key
  if [[ -f $out/.complete ]]; then
    echo "$out"
    return 0
  fi
  command -v go >/dev/null || {
    echo "go-tools: 'go' is not installed; install Go 1.26 (hack/install-deps.sh does: Debian's golang-go if it is 1.26, else the go.dev tarball)" >&2
    return 2
  }
  mkdir -p "$cache"
  # One builder per program: helpers and test runs call this at the same time, and two
  # builds into one .tmp folder would leave a half-written binary marked complete.
  exec {lock}>"$cache/.$name.lock"
  flock "$lock"
  if [[ -f $out/.complete ]]; then
    flock -u "$lock"
    echo "$out"
    return 0
  fi
  echo "go-tools: building $name $version (cached in $out) ..." >&2
  local start=$SECONDS binary
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  for binary in "$@"; do
    # -mod=readonly: the pin is go.sum as committed, never rewritten by a build.
    # CGO_ENABLED=0: static binaries, as the upstream release builds make them, and no C
    # compiler needed.
    (cd "$modules/$name" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
      go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out.tmp/${binary%%=*}" "${binary#*=}") >&2
  done
  copy_module_files "$name" "$module" "$out.tmp"
  go version >"$out.tmp/.go-version"
  touch "$out.tmp/.complete"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  flock -u "$lock"
  echo "go-tools: built $name $version in $((SECONDS - start)) s" >&2
  echo "$out"
}

case ${1:-} in
  --list) for n in "${NAMES[@]}"; do
    # shellcheck disable=SC2046
    set -- $(packages "$n")
    echo "$n $(version_of "$n" "$1")"
  done ;;
  --all) for n in "${NAMES[@]}"; do build "$n" >/dev/null; done ;;
  "" | -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) build "$1" ;;
esac
