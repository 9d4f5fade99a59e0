"""Bazel py_test main: runs pytest on the test files named in argv (relative to this folder)."""

import importlib.util
import os
import sys

import pytest


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    files = [a if os.path.isabs(a) else os.path.join(here, a) for a in sys.argv[1:]]
    # -p no:cacheprovider: the runfiles tree is read-only.
    rc = pytest.main(["-q", "-p", "no:cacheprovider", *(files or [here])])
    if rc == pytest.ExitCode.NO_TESTS_COLLECTED:
        # The one accepted reason: a module skipped whole because torch is not installed
        # (pytest.importorskip; --repo_env=MARLIN_PIP_SKIP=torch). Anything else collecting
        # nothing (a wrong file name, a module skipped for another reason) is a failure.
        if importlib.util.find_spec("torch") is None:
            print("run_pytest: every test of this target needs torch, which is not installed")
            return 0
        print("run_pytest: FAILED: no test was collected although torch is installed")
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
