#!/bin/sh
# Replaces a downloaded CUDA toolkit: finds the local one and prints one JSON object on stdout.
#
# Order: $CUDA_PATH (when set, it must be a toolkit), /usr/local/cuda, /usr/local/cuda-* (newest
# first), then the toolkit of `nvcc` on PATH (asked via `nvcc -dryrun`, so wrapper scripts work).
# A toolkit is a directory with bin/nvcc and include/cuda_runtime.h; its nvcc must run.
# Found:     {"found": true, "path": ..., "nvcc": ..., "lib": ..., "version": "13.0", "source": ...}
# Not found: {"found": false, "reason": "..."}; the reason says which nvcc failed and how
#            ("nvcc at /x/bin/nvcc does not run: <its error>"), or that there is none.
# Used by third_party/cuda/local_cuda.bzl. FIND_CUDA_SYSTEM_ROOT (tests only)
# is prefixed to /usr/local, so a test can stand in for the system locations.
set -u

sys_root=${FIND_CUDA_SYSTEM_ROOT:-}

is_toolkit() {
    [ -x "$1/bin/nvcc" ] && [ -f "$1/include/cuda_runtime.h" ]
}

# One line of JSON string content: control characters to spaces, \ and " escaped, at most 400
# characters.
json_text() {
    printf '%s' "$1" | tr '\001-\037' ' ' | sed 's/\\/\\\\/g; s/"/\\"/g' | cut -c 1-400
}

not_found() {  # not_found REASON
    printf '{"found": false, "reason": "%s"}\n' "$(json_text "$1")"
    exit 0
}

# Runs `NVCC --version` and keeps its output in $version_out; stops with the reason when it fails.
version_out=""
check_runs() {  # check_runs NVCC
    version_out=$("$1" --version 2>&1)
    status=$?
    if [ "$status" -ne 0 ]; then
        not_found "nvcc at $1 does not run (exit status $status): ${version_out:-no output}"
    fi
}

emit() {  # emit ROOT SOURCE
    root=$(cd "$1" && pwd -P)
    check_runs "$root/bin/nvcc"
    version=$(printf '%s\n' "$version_out" |
        sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)
    lib=""
    for d in lib64 lib targets/x86_64-linux/lib targets/sbsa-linux/lib; do
        if [ -f "$root/$d/libcudart_static.a" ]; then
            lib="$root/$d"
            break
        fi
    done
    if [ -z "$version" ]; then
        not_found "$root/bin/nvcc --version printed no release number: $version_out"
    fi
    if [ -z "$lib" ]; then
        not_found "no libcudart_static.a under $root (lib64, lib, targets/*/lib)"
    fi
    printf '{"found": true, "path": "%s", "nvcc": "%s/bin/nvcc", "lib": "%s", "version": "%s", "source": "%s"}\n' \
        "$root" "$root" "$lib" "$version" "$2"
    exit 0
}

if [ -n "${CUDA_PATH:-}" ]; then
    if is_toolkit "$CUDA_PATH"; then
        emit "$CUDA_PATH" "CUDA_PATH"
    fi
    not_found "CUDA_PATH=$CUDA_PATH is not a CUDA toolkit (needs bin/nvcc and include/cuda_runtime.h)"
fi

if is_toolkit "$sys_root/usr/local/cuda"; then
    emit "$sys_root/usr/local/cuda" "/usr/local/cuda"
fi
for d in $(ls -d "$sys_root"/usr/local/cuda-* 2>/dev/null | sort -r -V); do
    if is_toolkit "$d"; then
        emit "$d" "/usr/local/cuda-*"
    fi
done

nvcc=$(command -v nvcc 2>/dev/null || true)
if [ -z "$nvcc" ]; then
    not_found "no CUDA toolkit: CUDA_PATH is unset, no /usr/local/cuda or /usr/local/cuda-*, no nvcc on PATH"
fi
# An nvcc that cannot even print its version is reported as such, not as "no nvcc".
check_runs "$nvcc"
here=$("$nvcc" -dryrun --version 2>&1 | sed -n 's/^#\$ _HERE_=//p' | head -n 1)
if [ -n "$here" ] && is_toolkit "$here/.."; then
    emit "$here/.." "nvcc on PATH"
fi
real=$(readlink -f "$nvcc")
if is_toolkit "$(dirname "$real")/.."; then
    emit "$(dirname "$real")/.." "nvcc on PATH"
fi
not_found "nvcc at $nvcc runs, but is not inside a CUDA toolkit: neither its -dryrun _HERE_ (${here:-none}) nor $(dirname "$real")/.. has bin/nvcc and include/cuda_runtime.h; set CUDA_PATH"
