#!/usr/bin/env bash
# Runs list_kernels: at least one kernel, and every table entry a distinct kernel function (that
# each entry resolved is proven by the link itself: an unbuilt kernel is an undefined symbol).
set -euo pipefail

# check OUTPUT: fails unless OUTPUT reports >= 1 kernel and as many distinct functions.
check() {
  local kernels distinct
  kernels=$(echo "$1" | sed -n 's/^kernels: //p')
  distinct=$(echo "$1" | sed -n 's/^distinct: //p')
  if [[ -z "$kernels" || "$kernels" -lt 1 ]]; then
    echo "FAIL: expected at least one kernel" >&2
    return 1
  fi
  if [[ "$kernels" != "$distinct" ]]; then
    echo "FAIL: $kernels kernels in the table but $distinct distinct kernel functions" >&2
    return 1
  fi
}

# The check itself can fail (the old "linked" count could not: an address is never null).
for bad in $'kernels: 3\ndistinct: 2' $'kernels: 0\ndistinct: 0' $'kernels: 3'; do
  if check "$bad" 2>/dev/null; then
    echo "FAIL: the check accepted: ${bad//$'\n'/; }" >&2
    exit 1
  fi
done

out=$("$1")
echo "$out"
check "$out"
echo "PASS: $(echo "$out" | sed -n 's/^kernels: //p') kernels, each its own function"
