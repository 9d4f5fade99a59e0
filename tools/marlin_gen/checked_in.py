"""The checked-in generated files (design.md section 5): which, from what, how to regenerate.

Consumers of the scheme and arch tables that cannot run the generator (Starlark loading and
analysis, the marlin Python package, the host library) read copies of them in the tree. This
module decides what each copy holds (which preset, which plan) and renders it; main.py's
--update_checked_in writes them and //tests/generator:gen_checked_in_test compares them.
"""

from tools.marlin_gen import archs as archs_lib
from tools.marlin_gen import plan as plan_lib
from tools.marlin_gen import render
from tools.marlin_gen import schemes as schemes_lib

# Repository-relative paths.
BZL_PLAN_PATH = "marlin/private/generated/kernel_plan.bzl"
ARCH_TABLE_PATH = "marlin/private/generated/arch_table.bzl"
PY_SCHEME_TABLE_PATH = "python/marlin/_generated/scheme_table.py"
CC_SCHEME_TABLE_PATH = "marlin/include/marlin/generated/scheme_table.h"
PATHS = (BZL_PLAN_PATH, ARCH_TABLE_PATH, PY_SCHEME_TABLE_PATH, CC_SCHEME_TABLE_PATH)

UPDATE_COMMAND = "bazel run //:update_generated"
UPDATE_COMMAND_PYTHON = "python3 tools/generate_kernels.py --update_checked_in"
_REGENERATE = (UPDATE_COMMAND, UPDATE_COMMAND_PYTHON)

# The scheme tables of the runtime (Python package, host library) are those of this preset.
RUNTIME_PRESET = "vllm"


def bzl_plan(table=schemes_lib.SCHEMES, presets=None) -> str:
    """kernel_plan.bzl: every kernel file of each preset, planned with every family enabled
    (the loading phase declares all of them; analysis picks by --cuda_archs)."""
    presets = schemes_lib.PRESETS if presets is None else presets
    plans = [
        plan_lib.make_plan(
            name, schemes_lib.select(name, table=table, presets=presets), archs_lib.ALL
        )
        for name in sorted(presets)
    ]
    return render.bzl_plan(plans, [s.name for s in table], _REGENERATE)


def arch_table(table=schemes_lib.SCHEMES) -> str:
    """arch_table.bzl: the --cuda_archs values (archs.CUDA_ARCHS) and, for each, the families
    the generator plans files of (archs.compute_flags, then the planner over every scheme)."""
    families = [
        (
            arch,
            plan_lib.families_built(
                archs_lib.compute_flags(archs_lib.parse_arch_list(arch)), table
            ),
        )
        for arch in archs_lib.CUDA_ARCHS
    ]
    return render.arch_table(plan_lib.FAMILIES, families, _REGENERATE)


def py_scheme_table(preset=RUNTIME_PRESET, table=schemes_lib.SCHEMES, presets=None) -> str:
    """python/marlin/_generated/scheme_table.py: the rows of `preset`."""
    rows = schemes_lib.select(preset, table=table, presets=presets)
    return render.py_scheme_table(preset, rows, _REGENERATE)


def cc_scheme_table(preset=RUNTIME_PRESET, table=schemes_lib.SCHEMES, presets=None) -> str:
    """marlin/include/marlin/generated/scheme_table.h: the rows of `preset`."""
    rows = schemes_lib.select(preset, table=table, presets=presets)
    return render.cc_scheme_table(preset, rows, _REGENERATE)


def files() -> dict:
    """{repository-relative path: content} of every checked-in generated file."""
    contents = (bzl_plan(), arch_table(), py_scheme_table(), cc_scheme_table())
    return dict(zip(PATHS, contents, strict=True))
