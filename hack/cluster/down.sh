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
# TERM to each running component named, then wait for all of them; KILL what outlives GRACE.
stop() {
  local c pid pids=() left
  for c in "$@"; do
    if pid=$(cluster_pid "$state" "$c"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      stopped+=("$c($pid)")
    fi
  done
  local deadline=$((SECONDS + grace))
  while ((${#pids[@]})); do
    left=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    ((${#left[@]})) || break
    if ((SECONDS >= deadline)); then
      echo "down.sh: still running after ${grace} s, sending KILL to ${left[*]}" >&2
      kill -KILL "${left[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
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
