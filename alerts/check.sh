#!/usr/bin/env bash
# Checks every rule file and runs every promtool unit test; exits non-zero on any failure.
# Usage: alerts/check.sh   (from anywhere; needs promtool 2.42+ on PATH or $PROMTOOL)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
promtool="${PROMTOOL:-promtool}"
command -v "$promtool" >/dev/null || { echo "check.sh: $promtool not found (apt-get install -y prometheus)" >&2; exit 2; }
shopt -s nullglob
rules=(*.yml)
tests=(tests/*.yml)
(( ${#rules[@]} )) || { echo "check.sh: no rule files" >&2; exit 1; }
(( ${#tests[@]} )) || { echo "check.sh: no tests" >&2; exit 1; }
"$promtool" check rules "${rules[@]}"
"$promtool" test rules "${tests[@]}"
echo "alerts: ${#rules[@]} rule files checked, ${#tests[@]} test files passed"
