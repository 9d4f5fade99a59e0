#!/usr/bin/env bash
# Formats the repository: buildifier (Starlark, BUILD, WORKSPACE), ruff (Python), clang-format
# (C++/CUDA), and a lint of the shell scripts (`bash -n`, plus shellcheck at warning severity when
# Debian's `shellcheck` is installed; it has nothing to fix). `tools/format.sh --check` changes
# nothing and fails when something is unformatted (what CI runs).
#
# buildifier comes from npm (@bazel/buildifier, pinned in package.json) in the git-ignored
# node_modules; the first run installs it. ruff comes from pip, clang-format from Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [[ "${1:-}" == "--check" ]]; then
  check=1
elif [[ $# -gt 0 ]]; then
  echo "usage: tools/format.sh [--check]" >&2
  exit 2
fi

buildifier=node_modules/.bin/buildifier
if [[ ! -x "$buildifier" ]]; then
  npm install --silent --no-audit --no-fund >/dev/null
fi

status=0
starlark_files() {
  git ls-files --cached --others --exclude-standard -- \
    '*.bzl' '*.bazel' 'WORKSPACE' '*/WORKSPACE' '*.BUILD' 'BUILD' '*/BUILD' |
    grep -v -e '^marlin/private/generated/kernel_plan.bzl$' || true
}
python_files() { git ls-files --cached --others --exclude-standard -- '*.py'; }
cxx_files() {
  git ls-files --cached --others --exclude-standard -- '*.cu' '*.cuh' '*.h' '*.cc' '*.hpp' '*.cpp'
}

shell_files() {
  git ls-files --cached --others --exclude-standard -- '*.sh' '.ci/run'
}

mapfile -t bzl < <(starlark_files)
mapfile -t py < <(python_files)
mapfile -t cxx < <(cxx_files)
mapfile -t sh < <(shell_files)

# Shell: the same in both modes (nothing is rewritten).
for f in "${sh[@]}"; do bash -n "$f" || status=1; done
if ((${#sh[@]})) && command -v shellcheck >/dev/null 2>&1; then
  shellcheck -S warning "${sh[@]}" || status=1
fi

if ((check)); then
  ((${#bzl[@]})) && { "$buildifier" -config=.buildifier.json --mode=check --lint=warn "${bzl[@]}" || status=1; }
  ((${#py[@]})) && { ruff format --check "${py[@]}" || status=1; ruff check "${py[@]}" || status=1; }
  ((${#cxx[@]})) && { clang-format --dry-run --Werror "${cxx[@]}" || status=1; }
else
  ((${#bzl[@]})) && { "$buildifier" -config=.buildifier.json --mode=fix --lint=fix "${bzl[@]}" || status=1; }
  ((${#py[@]})) && { ruff format "${py[@]}" || status=1; ruff check --fix "${py[@]}" || status=1; }
  ((${#cxx[@]})) && { clang-format -i "${cxx[@]}" || status=1; }
fi
exit "$status"
