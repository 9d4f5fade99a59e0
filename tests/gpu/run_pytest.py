"""Bazel py_test main: runs pytest on the GPU suite files named in argv (relative to here)."""

import os
import sys

import pytest


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    files = [a if os.path.isabs(a) else os.path.join(here, a) for a in sys.argv[1:]]
    return pytest.main(["-q", "-p", "no:cacheprovider", *(files or [here])])


if __name__ == "__main__":
    sys.exit(main())
