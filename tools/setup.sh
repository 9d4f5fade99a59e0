#!/usr/bin/env bash
# Installs Bazel where it is missing (and repairs the shared disk cache, tools/doctor.py): Bazel 4.2.3 and the Bazel packages rules_marlin uses, from
# Debian (bazel-bootstrap, bazel-skylib, bazel-rules-java, ...; needs root, otherwise it says what
# to run). Nothing else: the Python packages (requirements.txt, pinned with hashes) are installed
# by Bazel itself into @marlin_pip, and the CUDA toolkit is the local one (@local_cuda) or, with
# --config=hermetic_cuda, pinned NVIDIA wheels (@cuda_wheels). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

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
# A truncated entry of the shared disk cache (.bazelrc) breaks every later build without naming the
# cache (Bazel 4.2.3): remove such entries before building (issue 8; tools/doctor.py).
if command -v python3 >/dev/null 2>&1; then
  python3 tools/doctor.py --fix | sed 's/^/setup: /'
fi
say "ready: bazel build //marlin:kernels --cuda_archs=sm_80,sm_89 && bazel test //tests/..."
