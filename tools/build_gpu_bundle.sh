#!/usr/bin/env bash
# Builds libmarlin.so with Bazel for the GPU machine and gathers what a GPU run needs into the
# git-ignored gpu_bundle/ folder (the GPU machine has no Bazel: build here, carry the folder):
#   gpu_bundle/libmarlin.so  gpu_bundle/python/marlin/  gpu_bundle/tests/gpu/
#   gpu_bundle/tests/cc/host_gpu_smoke.py  gpu_bundle/run_gpu_tests.sh
#   gpu_bundle/benchmarks/gemm_bench.py (run: cd gpu_bundle && python3 benchmarks/gemm_bench.py)
#
#   tools/build_gpu_bundle.sh [--cuda_archs=sm_90a,compute_89] [--marlin_schemes=all]
#
# Defaults fit an H100/H200: sm_90a SASS (wgmma for 32-64-row tiles) for the 16-bit and
# int8-activation kernels, compute_89 PTX for the FP8-activation kernels (JIT-compiled there; sm_90
# has no native FP8 mma path of its own).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

archs="sm_90a,compute_89"
schemes="all"
for arg in "$@"; do
  case "${arg}" in
    --cuda_archs=*) archs="${arg#*=}" ;;
    --marlin_schemes=*) schemes="${arg#*=}" ;;
    *) echo "build_gpu_bundle.sh: unknown argument '${arg}' (valid: --cuda_archs= --marlin_schemes=)" >&2; exit 2 ;;
  esac
done

bazel build //marlin/csrc:libmarlin.so --cuda_archs="${archs}" --marlin_schemes="${schemes}"

out=gpu_bundle
rm -rf "${out}"
mkdir -p "${out}/tests/cc" "${out}/benchmarks"
cp bazel-bin/marlin/csrc/libmarlin.so "${out}/"
# Host symbol tables are dead weight on the GPU machine (the C ABI stays in the dynamic table);
# the carried tree is capped at 64 MiB and the full preset's fatbins come close.
chmod u+w "${out}/libmarlin.so"
strip --strip-unneeded "${out}/libmarlin.so"
cp -r python "${out}/python"
cp -r tests/gpu "${out}/tests/gpu"
cp tests/cc/host_gpu_smoke.py "${out}/tests/cc/"
cp benchmarks/*.py "${out}/benchmarks/"
find "${out}" -name __pycache__ -prune -exec rm -rf {} +
cat > "${out}/run_gpu_tests.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the GPU suite and the C ABI smoke test from this bundle; the suite's JSON report goes to
# $1 (default gpu_report.json). Exits non-zero if either fails.
cd "$(dirname "$0")"
export MARLIN_LIBRARY=$PWD/libmarlin.so PYTHONPATH=python MARLIN_REQUIRE_GPU=1
MARLIN_GPU_REPORT="${1:-gpu_report.json}" python3 -m pytest tests/gpu -q -p no:cacheprovider
suite=$?
python3 tests/cc/host_gpu_smoke.py
smoke=$?
exit $((suite || smoke))
RUN
chmod +x "${out}/run_gpu_tests.sh"
# The bundle has no .git: benchmarks/gemm_bench.py reads the commit it was built from here.
echo "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)" >"${out}/COMMIT"
echo "gpu bundle: ${out}/ ($(du -sh "${out}" | cut -f1)); built for --cuda_archs=${archs} --marlin_schemes=${schemes}"
