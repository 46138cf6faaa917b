#!/usr/bin/env bash
# Stops the control plane hack/cluster/up.sh started in STATE_DIR (default .redline/cluster):
# exactly the pids it recorded, and only while each is still the binary it started. TERM
# first, KILL after a bounded wait. Removes the pid files and nothing else (certificates,
# kubeconfig, logs and etcd's data stay for a look afterwards).
#
#   hack/cluster/down.sh [STATE_DIR]     GRACE=15 seconds per step before KILL
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
state=${1:-$root/.redline/cluster}
grace=${GRACE:-15}
# shellcheck source=lib.sh
. "$here/lib.sh"

if [[ ! -d $state/pids ]]; then
  echo "no cluster started in $state"
  exit 0
fi

stopped=()
# Stops the running components named, together (see stop_pids).
stop() {
  local c pid pids=()
  for c in "$@"; do
    if pid=$(cluster_pid "$state" "$c"); then
      pids+=("$pid")
      stopped+=("$c($pid)")
    fi
  done
  stop_pids "$grace" "$*" "${pids[@]}"
}

# Everything but etcd first (newest first), so the API server shuts down cleanly while its
# store is still there; then etcd.
others=()
for ((i = ${#CLUSTER_COMPONENTS[@]} - 1; i >= 0; i--)); do
  [[ ${CLUSTER_COMPONENTS[i]} == etcd ]] || others+=("${CLUSTER_COMPONENTS[i]}")
done
stop "${others[@]}"
stop etcd

rm -f "$state"/pids/*.pid
if ((${#stopped[@]})); then
  echo "stopped ${stopped[*]}"
else
  echo "nothing was running in $state"
fi
