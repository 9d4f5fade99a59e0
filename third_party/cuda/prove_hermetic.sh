#!/usr/bin/env bash
# Shows that --config=hermetic_cuda needs no local CUDA toolkit (docs/hermetic.md): in a private
# mount namespace the local toolkit is hidden (empty tmpfs over its directory, /dev/null over
# nvcc wrappers on PATH), PATH is /usr/bin:/bin and CUDA_PATH is unset; then, with a fresh
# output root and no disk cache,
#   1. the default configuration must fail (no toolkit found: the hiding works);
#   2. `bazel build --config=hermetic_cuda` of the given targets must succeed, and
#   3. every CudaCompile action must run external/local_cuda/bin/nvcc with it as an input.
# Needs root (unshare -m, mount). Usage, from a clean clone:
#   third_party/cuda/prove_hermetic.sh [bazel args...]   (default: //marlin:kernels, CI set)
# MARLIN_PROOF_TEST=1 also runs `bazel test //tests/... --config=hermetic_cuda` in there.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ "${MARLIN_PROOF_INSIDE:-0}" != 1 ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "prove_hermetic: needs root (unshare -m)" >&2; exit 2; }
  python=$(python3 -c 'import sys; print(sys.executable)')
  exec unshare -m --propagation private env MARLIN_PROOF_INSIDE=1 MARLIN_PROOF_PYTHON="$python" \
    "$0" "$@"
fi

say() { printf 'prove_hermetic: %s\n' "$*"; }

# Hide every local toolkit and nvcc this script can find.
for d in /usr/local/cuda /usr/local/cuda-*; do
  [[ -d "$d" && ! -L "$d" ]] && mount -t tmpfs none "$d" && say "hid $d"
done
for n in $(which -a nvcc 2>/dev/null || true); do
  [[ -f "$n" ]] && mount --bind /dev/null "$n" && say "hid $n"
done
unset CUDA_PATH
export PATH=/usr/bin:/bin PYTHON_BIN_PATH="$MARLIN_PROOF_PYTHON"
if command -v nvcc >/dev/null 2>&1 || [[ -e /usr/local/cuda/bin/nvcc ]]; then
  say "FAILED: an nvcc is still visible"
  exit 1
fi
say "no nvcc visible: $(ls -A /usr/local/cuda 2>/dev/null | wc -l) entries in /usr/local/cuda"

root=$(mktemp -d /tmp/prove_hermetic.XXXXXX)
bazel_cmd=(bazel --output_user_root="$root")
targets=("$@")
((${#targets[@]})) || targets=(//marlin:kernels --cuda_archs=sm_80 --marlin_schemes=gptq_int4)

say "1. default configuration (must fail: no local toolkit)"
if "${bazel_cmd[@]}" build --disk_cache= "${targets[@]}" >"$root/default.log" 2>&1; then
  say "FAILED: the default build succeeded without a local toolkit"
  exit 1
fi
grep -m1 -o 'Error in fail: .*' "$root/default.log" | cut -c1-240 || tail -3 "$root/default.log"

say "2. --config=hermetic_cuda"
start=$(date +%s)
"${bazel_cmd[@]}" build --config=hermetic_cuda --disk_cache= "${targets[@]}"
say "built in $(($(date +%s) - start)) s"

say "3. the nvcc of the CudaCompile actions"
flags=() labels=()
for a in "${targets[@]}"; do
  if [[ "$a" == -* ]]; then flags+=("$a"); else labels+=("$a"); fi
done
union=${labels[0]}
for l in "${labels[@]:1}"; do union+=" + $l"; done
expr="mnemonic(\"CudaCompile\", deps($union))"
"${bazel_cmd[@]}" aquery --config=hermetic_cuda "${flags[@]}" "$expr" --output=text \
  2>/dev/null >"$root/aquery.txt" || true
n_actions=$(grep -c 'Mnemonic: CudaCompile' "$root/aquery.txt" || true)
n_hermetic=$(grep -c '^  Command Line: (exec external/local_cuda/bin/nvcc' "$root/aquery.txt" || true)
n_local=$(grep -c '/usr/local' "$root/aquery.txt" || true)
say "$n_actions CudaCompile actions, $n_hermetic run external/local_cuda/bin/nvcc, $n_local lines mention /usr/local"
[[ "$n_actions" -gt 0 && "$n_actions" == "$n_hermetic" && "$n_local" == 0 ]] || { say FAILED; exit 1; }
find "$root" -path '*/external/local_cuda/defs.bzl' -exec grep -H '^NVCC\|^CUDA_SOURCE' {} \;

if [[ "${MARLIN_PROOF_TEST:-0}" == 1 ]]; then
  say "4. bazel test //tests/... --config=hermetic_cuda"
  "${bazel_cmd[@]}" test --config=hermetic_cuda --disk_cache= //tests/...
fi
"${bazel_cmd[@]}" shutdown
say "OK (output root $root)"
