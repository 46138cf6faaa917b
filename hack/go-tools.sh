#!/usr/bin/env bash
# Builds the real third-party programs the tests run, from their published Go modules, and
# prints the folder holding the binaries. Each program is pinned by a go.mod/go.sum under
# hack/modules/<name>/ (no source or binary of theirs is kept in this repository); a built
# folder is cached outside the clone, keyed by name, version and go.sum, so a warm machine
# builds nothing.
#
#   hack/go-tools.sh <name>      build if needed, print the folder (e.g. for PATH)
#   hack/go-tools.sh --list      the names and pinned versions
#   hack/go-tools.sh --all       build every one (CI warms its cache this way)
#
# Names: kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl),
# etcd, kwok, prometheus (prometheus, promtool: Prometheus 3), linkerd (controller: Linkerd's
# destination controller and friends). Progress goes to stderr; stdout is only the folder.
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
    prometheus) echo "github.com/prometheus/prometheus prometheus=github.com/prometheus/prometheus/cmd/prometheus promtool=github.com/prometheus/prometheus/cmd/promtool" ;;
    linkerd) echo "github.com/linkerd/linkerd2 linkerd-controller=github.com/linkerd/linkerd2/controller/cmd" ;;
    *) return 1 ;;
  esac
}
NAMES=(kubernetes etcd kwok prometheus linkerd)

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
    prometheus)
      local v3=${version#v0.}
      flags+=" -X github.com/prometheus/common/version.Version=3.${v3#3}"
      ;;
  esac
  echo "$flags"
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
  key=$(sha256sum "$modules/$name/go.sum" | cut -c1-12)
  out=$cache/$name-$version-$key
  if [[ -f $out/.complete ]]; then
    echo "$out"
    return 0
  fi
  command -v go >/dev/null || {
    echo "go-tools: 'go' is not installed; install Go 1.26 (Debian: apt-get install golang-go, or https://go.dev/dl)" >&2
    return 2
  }
  echo "go-tools: building $name $version (cached in $out) ..." >&2
  local start=$SECONDS
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  local ldflags binary
  ldflags=$(ldflags_for "$name" "$version")
  for binary in "$@"; do
    (cd "$modules/$name" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp/${binary%%=*}" "${binary#*=}") >&2
  done
  touch "$out.tmp/.complete"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  echo "go-tools: built $name $version in $((SECONDS - start)) s" >&2
  echo "$out"
}

case ${1:-} in
  --list) for n in "${NAMES[@]}"; do set -- $(packages "$n"); echo "$n $(version_of "$n" "$1")"; done ;;
  --all) for n in "${NAMES[@]}"; do build "$n" >/dev/null; done ;;
  "" | -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) build "$1" ;;
esac
