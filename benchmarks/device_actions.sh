#!/usr/bin/env bash
# Cold builds of the full preset, per-file vs per-arch device actions, with Bazel's JSON trace
# profiles for //tools:build_report. For each --cuda_archs value and each mode it runs
#   bazel build //marlin:kernels --cuda_archs=A --cuda_device_actions=M --profile=OUT/A.M.profile.gz
# with a fresh --output_user_root and no disk cache (every action runs), under `nice -n 10`, and
# prints a Markdown table: actions, wall time, Bazel's critical path, peak machine memory.
# Usage: benchmarks/device_actions.sh OUT_DIR [ARCHS...]   (default: sm_80,sm_89 sm_80,sm_89,sm_90a)
# MARLIN_TARGET (default //marlin:kernels) and MARLIN_SCHEMES (default all) pick a smaller build,
# MARLIN_MODES (default "per_file per_arch") the modes.
# Works in a fresh clone of HEAD (with the working tree's uncommitted changes applied) under /tmp.
set -euo pipefail
target=${MARLIN_TARGET:-//marlin:kernels}
schemes=${MARLIN_SCHEMES:-all}
out=$(realpath -m "$1"); shift
archs_list=("${@:-sm_80,sm_89}")
[ $# -gt 0 ] || archs_list=("sm_80,sm_89" "sm_80,sm_89,sm_90a")
mkdir -p "$out"
src=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
root=$(mktemp -d /tmp/marlin_device_actions.XXXX)
git clone -q "$src" "$root/ws"
(cd "$src" && git diff HEAD) | (cd "$root/ws" && git apply --allow-empty)
cd "$root/ws"
commit=$(git -C "$src" rev-parse --short HEAD)$( (cd "$src" && git diff --quiet HEAD) || echo "+changes")

sample_peak() { local peak=0 used; while kill -0 "$1" 2>/dev/null; do
  used=$(free -m | awk '/^Mem:/ {print $3}'); [ "$used" -gt "$peak" ] && peak=$used; sleep 1; done
  echo "$peak"; }

echo "| --cuda_archs | mode | actions | spawned processes | wall | critical path | peak memory (baseline) | load avg before |" >"$out/table.md"
echo "|---|---|---|---|---|---|---|---|" >>"$out/table.md"
for archs in "${archs_list[@]}"; do
  for mode in ${MARLIN_MODES:-per_file per_arch}; do
    tag="$archs.$mode"
    ob="$root/out.$tag"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    base=$(free -m | awk '/^Mem:/ {print $3}')
    start=$(date +%s.%N)
    nice -n 10 bazel --output_user_root="$ob" build "$target" --disk_cache= \
      --cuda_archs="$archs" --marlin_schemes="$schemes" --cuda_device_actions="$mode" \
      --profile="$out/$tag.profile.gz" >"$out/$tag.log" 2>&1 &
    pid=$!
    peak=$(sample_peak "$pid")
    wait "$pid"
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    actions=$(grep -oE '[0-9]+ total actions' "$out/$tag.log" | tail -1 | cut -d' ' -f1)
    nvcc=$(grep -oE '[0-9]+ (linux-sandbox|local|processwrapper-sandbox)' "$out/$tag.log" | tail -1 | cut -d' ' -f1)
    crit=$(grep -oE 'Critical Path: [0-9.]+s' "$out/$tag.log" | tail -1 | cut -d' ' -f3)
    cp -r "$ob"/*/execroot/rules_marlin/bazel-out/k8-fastbuild/bin/marlin/_objs "$out/$tag.objs" 2>/dev/null || true
    bazel --output_user_root="$ob" shutdown >/dev/null 2>&1 || true
    printf '| %s | %s | %s | %s | %.0f s | %s | %s MiB (%s MiB) | %s |\n' \
      "$archs" "$mode" "$actions" "$nvcc" "$wall" "$crit" "$peak" "$base" "$load" | tee -a "$out/table.md"
    rm -rf "$ob"
  done
done
echo "$target, --marlin_schemes=$schemes, commit $commit, $(nproc) cores, $(date -u +%F)" | tee -a "$out/table.md"
