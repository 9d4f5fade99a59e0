#!/usr/bin/env bash
# The GPU correctness gate and the tuning run, on the GPU machine, from the repository root with
# gpu_bundle/ (tools/build_gpu_bundle.sh) beside it. Writes logs and JSON under ${OUT:-/tmp/out}
# and prints a summary; exits non-zero when a correctness step fails.
#   1. tests/cc/kernel_gpu_check.cu: the kernel template alone (nvcc here, sm_90a + compute_89 PTX)
#   2. the GPU suite (tests/gpu, every built scheme, incl. the edge cases of test_gpu_edges.py)
#   3. compute-sanitizer memcheck and racecheck on a representative subset
#   4. benchmarks/tune_dispatch.py (measurements for tools/dispatch_table.py)
#   5. benchmarks/host_overhead.py (eager per-call host cost vs torch.matmul)
# Each step is bounded (a timed-out check fails the gate) so the whole fits one 10-minute GPU
# command.
set -uo pipefail
final="${OUT:-/tmp/out}"
out=/tmp/gpu_gate
mkdir -p "${final}" "${out}"
status=0
step() { printf '== %s\n' "$*"; }

step "kernel_gpu_check"
nvcc -std=c++17 -O3 -I marlin/include -gencode arch=compute_90a,code=sm_90a \
  -gencode arch=compute_89,code=compute_89 -static-global-template-stub=false \
  -o /tmp/kernel_gpu_check tests/cc/kernel_gpu_check.cu &
nvcc_pid=$!

cd gpu_bundle || exit 2
export MARLIN_LIBRARY="${PWD}/libmarlin.so" PYTHONPATH=python
step "GPU suite"
MARLIN_GPU_REPORT="${out}/gpu_report.json" timeout 180 python3 -m pytest tests/gpu -q \
  -p no:cacheprovider > "${out}/suite.log" 2>&1 || status=1
tail -3 "${out}/suite.log"
python3 tests/cc/host_gpu_smoke.py > "${out}/smoke.log" 2>&1 || status=1
tail -1 "${out}/smoke.log"

step "memcheck / racecheck"
subset="m1-k1408 or m7-k1664 or m26-k1408 or test_gpu_pack or test_forced_configs or test_bitwise or test_wide_tile_m_edges and (129 or 192)"
timeout 170 compute-sanitizer --tool memcheck --error-exitcode 9 python3 -m pytest tests/gpu -q \
  -p no:cacheprovider -k "${subset}" > "${out}/memcheck.log" 2>&1 || status=1
tail -2 "${out}/memcheck.log"
timeout 110 compute-sanitizer --tool racecheck --error-exitcode 9 python3 -m pytest tests/gpu -q \
  -p no:cacheprovider -k "gptq_int4-f16-g128-m1-k1408 or gptq_int4-f16-g128-m26-k1408 or awq_int4-f16-g128-m7 or test_forced_configs and t256-k128-n128 or test_8bit_activation_forced_configs and t128-k64-n128-m2 or test_wide_tile_m_edges and 192-3-bf16" \
  > "${out}/racecheck.log" 2>&1 || status=1
tail -2 "${out}/racecheck.log"

step "kernel_gpu_check (run)"
cd ..
if wait "${nvcc_pid}"; then
  /tmp/kernel_gpu_check > "${out}/kgc.log" 2>&1 || status=1
  CUDA_FORCE_PTX_JIT=1 /tmp/kernel_gpu_check > "${out}/kgc_jit.log" 2>&1 || status=1
  tail -n 1 "${out}/kgc.log" "${out}/kgc_jit.log"
else
  echo "kernel_gpu_check did not compile"; status=1
fi

cd gpu_bundle || exit 2
step "tune"
timeout 80 python3 benchmarks/tune_dispatch.py --out "${out}/tune_h200.json" > "${out}/tune.log" 2>&1
tail -1 "${out}/tune.log"
step "host overhead"
timeout 40 python3 benchmarks/host_overhead.py --out "${out}/host_overhead.json" 2>&1 |
  tee "${out}/host_overhead.md"

cp "${out}/gpu_report.json" "${out}/tune_h200.json" "${out}/suite.log" \
  "${out}/host_overhead.json" "${final}/" 2>/dev/null
for f in smoke memcheck racecheck kgc kgc_jit tune host_overhead; do
  printf '\n==== %s\n' "${f}"
  tail -n 40 "${out}/${f}.log" "${out}/${f}.md" 2>/dev/null
done > "${final}/gate.log"
echo "gate status ${status}"
exit "${status}"
