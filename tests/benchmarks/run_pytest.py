"""Bazel py_test main: runs pytest on the test files named in argv (relative to this folder)."""

import os
import sys

import pytest


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    files = [a if os.path.isabs(a) else os.path.join(here, a) for a in sys.argv[1:]]
    # -p no:cacheprovider: the runfiles tree is read-only.
    rc = pytest.main(["-q", "-p", "no:cacheprovider", *(files or [here])])
    if rc == pytest.ExitCode.NO_TESTS_COLLECTED:
        # A module skipped whole (torch not installed: pytest.importorskip) collects nothing;
        # the skip reason is printed above. @marlin_pip_torch (requirements.txt) brings torch,
        # so CI runs them.
        print("run_pytest: every test of this target was skipped (reasons above)")
        return 0
    return rc


if __name__ == "__main__":
    sys.exit(main())
