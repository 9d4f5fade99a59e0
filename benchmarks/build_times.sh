#!/usr/bin/env bash
# Measures the full-preset kernel build on this machine and prints a Markdown table:
#   1. cold build of //marlin:kernels (fresh output root, no disk cache): actions, wall, peak memory;
#   2. no-op rebuild;
#   3. rebuild after editing one scheme's row (fp8: group_blocks (-1, 8) -> (-1, 4, 8)):
#      which compile actions re-run (only that scheme's kernel files should).
# Usage: benchmarks/build_times.sh [--cuda_archs=sm_80,sm_89] [results.md]
# Works in a fresh clone of HEAD under /tmp (the edit never touches your checkout) with its own
# output root and no disk cache, so every number is cold. Takes tens of minutes on 2 cores.
set -euo pipefail
archs="${1:---cuda_archs=sm_80,sm_89}"
out=$(realpath -m "${2:-/dev/null}")
root=$(mktemp -d /tmp/marlin_build_times.XXXX)
git clone -q "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)" "$root/ws"
cd "$root/ws"
schemes=tools/marlin_gen/schemes.py
trap 'bazel --output_user_root="$root/out" shutdown >/dev/null 2>&1 || true' EXIT
bz() { bazel --output_user_root="$root/out" "$@" --disk_cache= --subcommands "$archs"; }

# Peak memory: sample the machine's used memory (all of Bazel's server and nvcc children) every 1 s.
sample_peak() { local peak=0; while kill -0 "$1" 2>/dev/null; do
  used=$(free -m | awk '/^Mem:/ {print $3}'); [ "$used" -gt "$peak" ] && peak=$used; sleep 1; done
  echo "$peak"; }

base=$(free -m | awk '/^Mem:/ {print $3}')
start=$(date +%s.%N)
bz build //marlin:kernels >"$root/cold.log" 2>&1 &
pid=$!
peak=$(sample_peak "$pid")
wait "$pid"
cold=$(echo "$(date +%s.%N) - $start" | bc)
cold_actions=$(grep -oE '[0-9]+ total actions' "$root/cold.log" | tail -1 | cut -d' ' -f1)
cold_nvcc=$(grep -c "^SUBCOMMAND.*Compiling .*\.cu" "$root/cold.log" || true)  # device + host actions

start=$(date +%s.%N)
bz build //marlin:kernels >"$root/noop.log" 2>&1
noop=$(echo "$(date +%s.%N) - $start" | bc)

sed -i 's/\(Scheme("fp8", st.kFE4M3fn, [^)]*\)group_blocks=(-1, 8))/\1group_blocks=(-1, 4, 8))/' "$schemes"
grep -q 'group_blocks=(-1, 4, 8)' "$schemes" || { echo "could not edit the fp8 row" >&2; exit 1; }
start=$(date +%s.%N)
bz build //marlin:kernels >"$root/edit.log" 2>&1
edit=$(echo "$(date +%s.%N) - $start" | bc)
edit_nvcc=$(grep -oE "^SUBCOMMAND: # //marlin:[a-z0-9_]+ \[action 'Compiling" "$root/edit.log" \
  | sed -E 's/.*# \/\/marlin:([a-z0-9_]+) .*/\1/' | sort -u | tr '\n' ' ')

{
  echo "| measurement ($archs, $(nproc) cores, $(date -u +%F)) | value |"
  echo "|---|---|"
  echo "| cold build: total actions | $cold_actions |"
  echo "| cold build: nvcc compile actions | $cold_nvcc |"
  printf '| cold build: wall time | %.0f s |\n' "$cold"
  echo "| cold build: peak machine memory in use (baseline $base MiB) | $peak MiB |"
  printf '| no-op rebuild | %.2f s |\n' "$noop"
  printf '| rebuild after editing the fp8 row | %.0f s |\n' "$edit"
  echo "| files recompiled after that edit | $edit_nvcc |"
} | tee "$out"
