"""The one py_test main of tools/pytest.bzl: runs pytest on the test files given as arguments.

Exits with pytest's status, unchanged: "no tests collected" (5) fails like any error, so a
test target whose file holds no test cannot pass silently.
"""

import sys

import pytest


def main(argv) -> int:
    if not [a for a in argv if not a.startswith("-")]:
        print("pytest_main: no test files given", file=sys.stderr)
        return 2
    # -p no:cacheprovider: the runfiles tree is read-only.
    return int(pytest.main(["-q", "-p", "no:cacheprovider", *argv]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
