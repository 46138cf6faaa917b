#!/usr/bin/env bash
# Stops the destination controller hack/linkerd/up.sh started in STATE_DIR (default
# .redline/cluster): the recorded pid only, while it is still that binary. TERM, KILL after
# GRACE seconds. The cluster keeps running (hack/cluster/down.sh STATE_DIR stops it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
state=${1:-$root/.redline/cluster}
grace=${GRACE:-15}
dir=$state/linkerd
# shellcheck source=../cluster/lib.sh
. "$root/hack/cluster/lib.sh"

if ! pid=$(cluster_pid "$dir" destination); then
  echo "no linkerd destination running in $dir"
  rm -f "$dir/pids/destination.pid"
  exit 0
fi
# A stopped (SIGSTOP) controller never handles TERM: let it run to exit.
kill -CONT "$pid" 2>/dev/null || true
stop_pids "$grace" "linkerd destination" "$pid"
rm -f "$dir/pids/destination.pid"
echo "stopped linkerd destination ($pid)"
