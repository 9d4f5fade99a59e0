#!/bin/sh
# Replaces a downloaded CUDA toolkit: finds the local one and prints one JSON object on stdout.
#
# Order: $CUDA_PATH (when set, it must be a toolkit), /usr/local/cuda, /usr/local/cuda-* (newest
# first), then the toolkit of `nvcc` on PATH (asked via `nvcc -dryrun`, so wrapper scripts work).
# A toolkit is a directory with bin/nvcc and include/cuda_runtime.h.
# Found:     {"found": true, "path": ..., "nvcc": ..., "lib": ..., "version": "13.0", "source": ...}
# Not found: {"found": false, "reason": "..."}
# Used by third_party/cuda/local_cuda.bzl and tools/setup.sh.
set -u

is_toolkit() {
    [ -x "$1/bin/nvcc" ] && [ -f "$1/include/cuda_runtime.h" ]
}

emit() {  # emit ROOT SOURCE
    root=$(cd "$1" && pwd -P)
    version=$("$root/bin/nvcc" --version 2>/dev/null |
        sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)
    lib=""
    for d in lib64 lib targets/x86_64-linux/lib targets/sbsa-linux/lib; do
        if [ -f "$root/$d/libcudart_static.a" ]; then
            lib="$root/$d"
            break
        fi
    done
    if [ -z "$version" ]; then
        printf '{"found": false, "reason": "%s/bin/nvcc --version printed no release number"}\n' "$root"
        exit 0
    fi
    if [ -z "$lib" ]; then
        printf '{"found": false, "reason": "no libcudart_static.a under %s (lib64, lib, targets/*/lib)"}\n' "$root"
        exit 0
    fi
    printf '{"found": true, "path": "%s", "nvcc": "%s/bin/nvcc", "lib": "%s", "version": "%s", "source": "%s"}\n' \
        "$root" "$root" "$lib" "$version" "$2"
    exit 0
}

if [ -n "${CUDA_PATH:-}" ]; then
    if is_toolkit "$CUDA_PATH"; then
        emit "$CUDA_PATH" "CUDA_PATH"
    fi
    printf '{"found": false, "reason": "CUDA_PATH=%s is not a CUDA toolkit (needs bin/nvcc and include/cuda_runtime.h)"}\n' "$CUDA_PATH"
    exit 0
fi

if is_toolkit /usr/local/cuda; then
    emit /usr/local/cuda "/usr/local/cuda"
fi
for d in $(ls -d /usr/local/cuda-* 2>/dev/null | sort -r -V); do
    if is_toolkit "$d"; then
        emit "$d" "/usr/local/cuda-*"
    fi
done

nvcc=$(command -v nvcc 2>/dev/null || true)
if [ -n "$nvcc" ]; then
    here=$("$nvcc" -dryrun --version 2>&1 | sed -n 's/^#\$ _HERE_=//p' | head -n 1)
    if [ -n "$here" ] && is_toolkit "$here/.."; then
        emit "$here/.." "nvcc on PATH"
    fi
    real=$(readlink -f "$nvcc")
    if is_toolkit "$(dirname "$real")/.."; then
        emit "$(dirname "$real")/.." "nvcc on PATH"
    fi
fi

printf '{"found": false, "reason": "no CUDA toolkit: CUDA_PATH is unset, no /usr/local/cuda or /usr/local/cuda-*, no nvcc on PATH"}\n'
