"""The checked-in marlin/private/kernel_plan.bzl equals a fresh render."""

import os

from tools.marlin_gen import render

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKED_IN = os.path.join(REPO_ROOT, render.BZL_PLAN_PATH)


def test_checked_in_kernel_plan_is_current():
    with open(CHECKED_IN, encoding="utf-8") as f:
        checked_in = f.read()
    assert checked_in == render.bzl_plan(), (
        f"{render.BZL_PLAN_PATH} is stale; regenerate it from the repository root with:\n"
        f"    {render.BZL_PLAN_REGENERATE}"
    )
