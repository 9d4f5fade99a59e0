"""Every checked-in generated file (checked_in.PATHS) equals a fresh render.

marlin/private/kernel_plan.bzl, marlin/private/arch_table.bzl, python/marlin/_scheme_table.py and
marlin/include/marlin/scheme_table.h are generator outputs kept in the tree (Starlark cannot run
Python; the Python package and host_core must not need the generator); this test keeps them honest.
"""

import os

import pytest

from tools.marlin_gen import checked_in

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("path", checked_in.PATHS)
def test_checked_in_file_is_current(path):
    with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as f:
        in_tree = f.read()
    assert in_tree == checked_in.files()[path], (
        f"{path} is stale (tools/marlin_gen/schemes.py or a template changed); regenerate every "
        f"checked-in generated file from the repository root with:\n"
        f"    {checked_in.UPDATE_COMMAND}\n"
        f"or, without Bazel:\n"
        f"    {checked_in.UPDATE_COMMAND_PYTHON}"
    )
