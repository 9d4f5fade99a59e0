"""Bazel py_test main: runs pytest on the GPU suite files named in argv (relative to here).

Under Bazel the suite must run: MARLIN_REQUIRE_GPU defaults to 1 here (conftest.py then fails
when no GPU, torch or libmarlin.so is usable instead of skipping every test), and collecting no
test is a failure.
"""

import os
import sys

import pytest


def main() -> int:
    os.environ.setdefault("MARLIN_REQUIRE_GPU", "1")
    here = os.path.dirname(os.path.abspath(__file__))
    files = [a if os.path.isabs(a) else os.path.join(here, a) for a in sys.argv[1:]]
    rc = pytest.main(["-q", "-p", "no:cacheprovider", *(files or [here])])
    if rc == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("run_pytest: FAILED: no GPU test was collected")
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
