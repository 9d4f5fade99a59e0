#!/usr/bin/env bash
# The benchmark of docs/benchmarks.md (run 6), on the GPU machine from the repository root with
# gpu_bundle/ (tools/build_gpu_bundle.sh) and .whl/ (Humming's wheel, gpu.md) carried. Writes the
# JSON and Markdown of both parts under ${OUT:-/tmp/out}; merge them here with
# `python3 benchmarks/gemm_bench.py --from-json A.json B.json --out benchmarks/results/h200.json`.
# Bounded to fit one 10-minute GPU command.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
cd gpu_bundle || exit 2
export MARLIN_LIBRARY=$PWD/libmarlin.so PYTHONPATH=python:/tmp/site HUMMING_CACHE_DIR=/tmp/hcache PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
timeout 330 python3 benchmarks/gemm_bench.py --schemes gptq_int4_g128 --no-plots --time-budget-s 300 --out-dir "$OUT" --out h200_gptq.json > "$OUT/bench_gptq.log" 2>&1; tail -2 "$OUT/bench_gptq.log"
timeout 200 python3 benchmarks/gemm_bench.py --schemes gptq_int4_g128_bf16,gptq_int4_cw,awq_int4_g128,hqq_int4_g64,gptq_int8_g128,fp8_cw,nvfp4,mxfp4,gptq_int4_a_int8_g128,gptq_int4_a_fp8_g128 --no-humming --no-plots --ms 1,16,64,256 --time-budget-s 170 --out-dir "$OUT" --out h200_w.json > "$OUT/bench_w.log" 2>&1; tail -2 "$OUT/bench_w.log"
