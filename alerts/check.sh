#!/usr/bin/env bash
# Checks every rule file and runs every promtool unit test with the promtool of each Prometheus
# users run: Debian's 2.42 and Prometheus 3. Exits non-zero on any failure.
#
#   alerts/check.sh        both versions (from anywhere)
#   alerts/check.sh 2      only promtool 2.x: $PROMTOOL, else `promtool` on PATH
#   alerts/check.sh 3      only promtool 3.x: $PROMTOOL3, else the build of hack/go-tools.sh
#
# Without a Prometheus 3 promtool (no Go to build it) the 3.x run is skipped with a warning,
# except under CI=true, where that is a failure.
#
# The 3.x run sets promtool's own `fuzzy_compare: true` (on a temporary copy of the test files):
# values may differ from the expected ones in the last bit and nothing more. Prometheus 3
# computes rate() as delta * (extrapolated / sampled interval / range) where 2.x divided by the
# range last, and it no longer sees the sample on a window's left boundary, so the 15 s-aligned
# test data gives 6.666666666666666 where 2.x gives 6.666666666666667. Every expected value is
# still compared exactly by 2.42, and alert labels and annotations exactly by both.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

in_ci() { [[ -n ${CI:-} && ${CI:-} != 0 && ${CI:-} != false ]]; }

major_of() { # promtool's major version, e.g. 2 or 3
  "$1" --version 2>/dev/null | sed -n '1s/^promtool, version \([0-9]*\)\..*/\1/p'
}

promtool2() {
  local p=${PROMTOOL:-promtool}
  command -v "$p" >/dev/null || {
    echo "check.sh: $p not found (apt-get install -y prometheus, or set PROMTOOL)" >&2
    return 2
  }
  command -v "$p"
}

promtool3() {
  if [[ -n ${PROMTOOL3:-} ]]; then
    echo "$PROMTOOL3"
    return 0
  fi
  local dir
  dir=$("$here/../hack/go-tools.sh" prometheus) || return 2
  echo "$dir/promtool"
}

shopt -s nullglob
rules=(*.yml)
tests=(tests/*.yml)
((${#rules[@]})) || { echo "check.sh: no rule files" >&2; exit 1; }
((${#tests[@]})) || { echo "check.sh: no tests" >&2; exit 1; }

scratch=""
trap '[[ -z $scratch ]] || rm -rf "$scratch"' EXIT

# The test files as promtool 3 reads them: fuzzy_compare on, rule files where ../ points.
fuzzy_copy() {
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/redline-alerts-check.XXXXXX")
  mkdir "$scratch/tests"
  local f
  for f in "${rules[@]}"; do ln -s "$here/$f" "$scratch/$f"; done
  for f in "${tests[@]}"; do
    { echo "fuzzy_compare: true"; cat "$f"; } >"$scratch/$f"
  done
}

check_with() {
  local promtool=$1 major
  major=$(major_of "$promtool")
  [[ -n $major ]] || { echo "check.sh: $promtool does not say its version" >&2; return 1; }
  echo "== promtool $("$promtool" --version | sed -n '1s/^promtool, version \([^ ]*\).*/\1/p') ($promtool)"
  "$promtool" check rules "${rules[@]}"
  if ((major >= 3)); then
    fuzzy_copy
    (cd "$scratch" && "$promtool" test rules "${tests[@]}")
  else
    "$promtool" test rules "${tests[@]}"
  fi
  echo "alerts: ${#rules[@]} rule files checked, ${#tests[@]} test files passed with promtool $major"
}

want=${1:-both}
case $want in
  2 | 3 | both) ;;
  *) echo "usage: alerts/check.sh [2|3]" >&2; exit 2 ;;
esac

if [[ $want == 2 || $want == both ]]; then
  p2=$(promtool2) || exit 2
  check_with "$p2"
fi
if [[ $want == 3 || $want == both ]]; then
  if p3=$(promtool3) && [[ -x $p3 ]]; then
    check_with "$p3"
  elif in_ci || [[ $want == 3 ]]; then
    echo "check.sh: no Prometheus 3 promtool (hack/go-tools.sh prometheus needs Go 1.26; or set PROMTOOL3)" >&2
    exit 2
  else
    echo "================================================================================" >&2
    echo "check.sh: SKIPPED the Prometheus 3 run: no promtool 3 (hack/go-tools.sh prometheus" >&2
    echo "  needs Go 1.26; or set PROMTOOL3). With CI=true this is a failure." >&2
    echo "================================================================================" >&2
  fi
fi
