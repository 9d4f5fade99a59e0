#!/usr/bin/env bash
# Builds libmarlin.so with nvcc directly (no Bazel) and gathers what a GPU run needs into the
# git-ignored gpu_bundle/ folder: lib/libmarlin.so, python/marlin, tests/gpu, tests/cc/host_gpu_smoke.py.
# Interim tool until the Bazel build (//marlin/csrc:libmarlin.so) is carried instead.
#
#   tools/build_gpu_bundle.sh [--archs=sm_90,compute_89] [--schemes=gptq_int4] [--gen_dir=DIR]
#                             [--out=gpu_bundle] [--jobs=N]
#
# --gen_dir uses an already generated (e.g. trimmed) kernel dir instead of running the generator;
# it must hold the kernel .cu files, manifest.json and marlin/kernel_selector.h (or kernel_selector.h).
# Kernel files are compiled per family as marlin/private/arch_flags.bzl maps them: sm75 -> sm_75
# only; sm80 -> sm_80 SASS for 8.x, own SASS/PTX for >= 9.0; sm89 -> sm_89/sm_120 (and PTX).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARCHS="sm_90,compute_89"
SCHEMES="gptq_int4"
GEN_DIR=""
OUT="${ROOT}/gpu_bundle"
JOBS="$(nproc)"
NVCC="${NVCC:-/usr/local/cuda-13.0/bin/nvcc}"

for arg in "$@"; do
  case "${arg}" in
    --archs=*) ARCHS="${arg#*=}" ;;
    --schemes=*) SCHEMES="${arg#*=}" ;;
    --gen_dir=*) GEN_DIR="${arg#*=}" ;;
    --out=*) OUT="${arg#*=}" ;;
    --jobs=*) JOBS="${arg#*=}" ;;
    *) echo "build_gpu_bundle.sh: unknown argument '${arg}' (valid: --archs --schemes --gen_dir --out --jobs)" >&2; exit 2 ;;
  esac
done

BUILD="$(mktemp -d /tmp/marlin_bundle.XXXXXX)"
trap 'rm -rf "${BUILD}"' EXIT

if [[ -z "${GEN_DIR}" ]]; then
  GEN_DIR="${BUILD}/gen"
  python3 "${ROOT}/tools/generate_kernels.py" "${ARCHS}" --schemes="${SCHEMES}" --out_dir="${GEN_DIR}"
fi
mkdir -p "${BUILD}/include/marlin"
if [[ -f "${GEN_DIR}/marlin/kernel_selector.h" ]]; then
  cp "${GEN_DIR}/marlin/kernel_selector.h" "${BUILD}/include/marlin/"
else
  cp "${GEN_DIR}/kernel_selector.h" "${BUILD}/include/marlin/"
fi

# gencode flags for one family (mirrors family_gencode in marlin/private/arch_flags.bzl).
gencode_for() {
  local family="$1" arch cc major flags=()
  IFS=',' read -ra list <<< "${ARCHS}"
  for arch in "${list[@]}"; do
    local kind="${arch%%_*}"
    cc="${arch#*_}"
    major=$(( ${cc%a} / 10 ))
    case "${family}" in
      sm75) [[ "${cc}" == 75 ]] || continue ;;
      sm80) (( major >= 8 )) || continue; (( major == 8 )) && cc=80 ;;
      sm89) [[ "${cc}" == 89 || "${cc}" == 120 ]] || continue ;;
      "") ;;
    esac
    if [[ "${kind}" == compute ]]; then
      flags+=("-gencode=arch=compute_${cc},code=compute_${cc}")
    else
      flags+=("-gencode=arch=compute_${cc},code=sm_${cc}")
    fi
  done
  printf '%s\n' "${flags[@]}" | sort -u | tr '\n' ' '
}

COMMON=(-std=c++17 -O3 -Xcompiler -fPIC -static-global-template-stub=false
        -I "${ROOT}" -I "${ROOT}/marlin/include" -I "${BUILD}/include")
export NVCC BUILD
{
  for cu in "${GEN_DIR}"/*.cu; do
    name="$(basename "${cu}" .cu)"
    family="${name%%_*}"  # sm75 / sm80 / sm89
    flags="$(gencode_for "${family}")"
    [[ -n "${flags}" ]] && echo "${NVCC} ${COMMON[*]} ${flags} -c ${cu} -o ${BUILD}/${name}.o"
  done
  generic="$(gencode_for "")"
  for src in gemm prepare; do
    echo "${NVCC} ${COMMON[*]} ${generic} -c ${ROOT}/marlin/csrc/${src}.cu -o ${BUILD}/${src}.o"
  done
  # Host-only sources: plain C++, no CUDA headers.
  for src in exec_config prepare_args c_api; do
    echo "g++ -std=c++17 -O2 -fPIC -I ${ROOT} -I ${ROOT}/marlin/include -c ${ROOT}/marlin/csrc/${src}.cc -o ${BUILD}/${src}.o"
  done
} > "${BUILD}/commands.txt"
echo "build_gpu_bundle.sh: $(wc -l < "${BUILD}/commands.txt") compile steps, ${JOBS} jobs, archs ${ARCHS}"
xargs -P "${JOBS}" -I CMD sh -c 'CMD' < "${BUILD}/commands.txt"

mkdir -p "${OUT}/lib"
"${NVCC}" -shared -cudart static -o "${OUT}/lib/libmarlin.so" "${BUILD}"/*.o
cp "${GEN_DIR}/manifest.json" "${OUT}/lib/manifest.json"
for dir in python/marlin tests/gpu; do
  if [[ -d "${ROOT}/${dir}" ]]; then
    mkdir -p "${OUT}/${dir}"
    cp -r "${ROOT}/${dir}/." "${OUT}/${dir}/"
  fi
done
mkdir -p "${OUT}/tests/cc"
cp "${ROOT}/tests/cc/host_gpu_smoke.py" "${OUT}/tests/cc/"
echo "build_gpu_bundle.sh: wrote ${OUT} ($(du -sh "${OUT}" | cut -f1))"
