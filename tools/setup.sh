#!/usr/bin/env bash
# One idempotent setup command for rules_marlin (CPU build machine):
#   1. Bazel 4.2.3 from Debian's packages, when `bazel` is missing (needs root; otherwise it says
#      what to run);
#   2. the pinned Python packages of requirements.txt, with pip, into the python3 on PATH;
#   3. a CUDA toolkit: CUDA_PATH, then /usr/local/cuda, /usr/local/cuda-*, then nvcc on PATH
#      (the same search as the @local_cuda repository: third_party/cuda/find_cuda.sh).
# Prints what it found. Safe to run again: each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. Bazel -------------------------------------------------------------------------------
DEBIAN_BAZEL_PACKAGES=(bazel-bootstrap bazel-bootstrap-data bazel-skylib bazel-platforms bazel-rules-java)
missing=()
command -v bazel >/dev/null 2>&1 || missing+=(bazel)
[[ -d /usr/share/bazel/tools/skylib ]] || missing+=(bazel-skylib)
[[ -d /usr/share/bazel/rules/java ]] || missing+=(bazel-rules-java)
if ((${#missing[@]})); then
  install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${DEBIAN_BAZEL_PACKAGES[*]}"
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing Bazel from Debian (missing: ${missing[*]})"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${DEBIAN_BAZEL_PACKAGES[@]}" >/dev/null
  else
    die "Bazel is missing (${missing[*]}); as root, run: ${install_cmd}"
  fi
fi
say "bazel: $(command -v bazel) ($(dpkg-query -W -f='${Version}' bazel-bootstrap 2>/dev/null || echo 'version unknown')), skylib: /usr/share/bazel/tools/skylib"

# --- 2. Python packages ---------------------------------------------------------------------
command -v python3 >/dev/null 2>&1 || die "python3 is not on PATH (the generator needs Python >= 3.10)"
if python3 - requirements.txt <<'PY'
import sys
from importlib import metadata
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
PY
then
  say "python packages already installed (requirements.txt)"
else
  say "pip installing requirements.txt"
  python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt
fi
say "python3: $(python3 -c 'import sys; print(sys.executable, sys.version.split()[0])'); $(python3 -c 'import jinja2, absl, pytest; print("jinja2", jinja2.__version__, "pytest", pytest.__version__)')"

# torch (CPU build is enough) runs the CPU tests of marlin.quant, marlin.prepare_weights and the
# tensor adapters; without it those tests skip. An existing torch (e.g. a CUDA build) is kept.
if python3 -c "import torch" >/dev/null 2>&1; then
  say "torch: $(python3 -c 'import torch; print(torch.__version__)') (kept)"
elif [[ "${MARLIN_SETUP_SKIP_TORCH:-0}" == 1 ]]; then
  say "torch: not installed (MARLIN_SETUP_SKIP_TORCH=1): the torch-based CPU tests will skip"
else
  say "pip installing torch==${MARLIN_SETUP_TORCH_VERSION:-2.13.0} for the CPU tests (MARLIN_SETUP_SKIP_TORCH=1 skips)"
  python3 -m pip install --quiet --disable-pip-version-check "torch==${MARLIN_SETUP_TORCH_VERSION:-2.13.0}"
fi

# --- 3. CUDA toolkit ------------------------------------------------------------------------
cuda_json=$(sh third_party/cuda/find_cuda.sh)
python3 - "$cuda_json" <<'PY' || exit 1
import json, sys
info = json.loads(sys.argv[1])
if not info["found"]:
    sys.stderr.write(
        "setup: ERROR: no CUDA toolkit: " + info["reason"] + ".\n"
        "setup: install the CUDA toolkit (nvcc, headers, libcudart_static.a) or set CUDA_PATH to it.\n")
    sys.exit(1)
print("setup: CUDA {version} at {path} (found via {source}); nvcc {nvcc}".format(**info))
PY
say "ready: bazel test //tests/..."
