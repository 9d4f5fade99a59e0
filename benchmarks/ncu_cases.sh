#!/usr/bin/env bash
# Nsight Compute on marlin.gemm cases, on the GPU machine from the repository root with
# gpu_bundle/ carried: one text report per case (the dispatcher's own config, the third launch of
# benchmarks/profile_case.py), packed into ${OUT:-/tmp/out}/ncu.tgz.
#   bash benchmarks/ncu_cases.sh SCHEME:K:N:M [SCHEME:K:N:M ...]
# Sections: speed of light, occupancy, launch, scheduler, warp states with every stall reason per
# issued instruction, compute and memory workload; plus executed and tensor-pipe instructions.
set -uo pipefail
OUT=${OUT:-/tmp/out}
dir=/tmp/ncu_cases
mkdir -p "${OUT}" "${dir}"
cd gpu_bundle || exit 2
export MARLIN_LIBRARY=$PWD/libmarlin.so PYTHONPATH=python
status=0
for case in "$@"; do
  IFS=: read -r scheme k n m <<<"${case}"
  timeout 120 ncu --clock-control none -k regex:Marlin --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section SchedulerStats \
    --section WarpStateStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
    --metrics smsp__inst_executed.sum,smsp__inst_executed_pipe_tensor.sum,regex:smsp__average_warps_issue_stalled_.*_per_issue_active\\.ratio \
    python3 benchmarks/profile_case.py --scheme "${scheme}" --k "${k}" --n "${n}" --m "${m}" \
    >"${dir}/${scheme}_${k}x${n}_m${m}.txt" 2>&1 || status=1
  grep -E "relative error|Duration|inst_executed.sum" "${dir}/${scheme}_${k}x${n}_m${m}.txt" |
    sed "s|^|${case} |"
done
tar -C "${dir}" -czf "${OUT}/ncu.tgz" .
exit "${status}"
