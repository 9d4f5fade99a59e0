#!/usr/bin/env bash
# Runs list_kernels: at least one kernel, and every table entry linked to a kernel function.
set -euo pipefail
out=$("$1")
echo "$out"
kernels=$(echo "$out" | sed -n 's/^kernels: //p')
linked=$(echo "$out" | sed -n 's/^linked: //p')
if [[ -z "$kernels" || "$kernels" -lt 1 ]]; then
  echo "FAIL: expected at least one kernel" >&2
  exit 1
fi
if [[ "$kernels" != "$linked" ]]; then
  echo "FAIL: $kernels kernels in the table but $linked linked" >&2
  exit 1
fi
echo "PASS: $kernels kernels linked"
