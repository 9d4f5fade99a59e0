#!/usr/bin/env bash
# `bazel run //:update_generated`: rewrites every checked-in generated file of the workspace.
#   $1  //tools/marlin_gen:generate_kernels  (--update_checked_in: kernel_plan.bzl, scheme tables)
#   $2  //tools:bzl_doc                      (--update: docs/generated/{rules,flags}.md)
# Both write through BUILD_WORKSPACE_DIRECTORY, which `bazel run` sets.
set -euo pipefail
if [[ $# -ne 2 || -z "${BUILD_WORKSPACE_DIRECTORY:-}" ]]; then
  echo "usage: bazel run //:update_generated" >&2
  exit 2
fi
"$1" --update_checked_in
"$2" --update
