# shellcheck shell=bash
# Sourced by up.sh and down.sh (and hack/linkerd's): which of the processes up.sh started are
# still running, and stopping them.
# Each is recorded as STATE_DIR/pids/<name>.pid = "<pid> <binary>"; a pid counts only while
# /proc/<pid>/exe is still that binary, so a pid the kernel has since reused for another
# program is never reported (and never signalled by down.sh).

# The components in start order (down.sh stops them in reverse).
# shellcheck disable=SC2034 # used by the scripts that source this file
CLUSTER_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server)

# Prints the pid of component $2 in state dir $1 if it is running; fails otherwise.
cluster_pid() {
  local file=$1/pids/$2.pid pid binary exe
  [[ -f $file ]] || return 1
  read -r pid binary <"$file" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  # A binary replaced on disk while running reads as "<path> (deleted)".
  [[ ${exe% (deleted)} == "$binary" ]] || return 1
  echo "$pid"
}

# TERM to each pid given, then waits for all of them together; KILL to those still running
# after $1 seconds (naming them, with what $2 says they are, on stderr). One wait for the whole
# group, so a group of N slow processes takes one GRACE and not N.
stop_pids() {
  local grace=$1 what=$2 pid left
  shift 2
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while :; do
    left=()
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    ((${#left[@]})) || return 0
    if ((SECONDS >= deadline)); then
      echo "down.sh: $what still running after ${grace} s, sending KILL to ${left[*]}" >&2
      kill -KILL "${left[@]}" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
}
