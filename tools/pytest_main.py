"""The one py_test main of tools/pytest.bzl: runs pytest on the test files given as arguments.

Exits with pytest's status, unchanged: "no tests collected" (5) fails like any error, so a
test target whose file holds no test cannot pass silently. The one exception is asked for by
the target (`pytest_test(optional_imports = ["torch"])`, passed here as
`--allow_empty_without=torch`): collecting nothing passes when one of those modules cannot be
imported (a module skipped whole by `pytest.importorskip`, e.g. under
`--repo_env=MARLIN_PIP_SKIP=torch`), and still fails while they are all importable.
"""

import importlib.util
import sys

import pytest

_OPTIONAL_FLAG = "--allow_empty_without="


def _missing(modules) -> list:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def main(argv) -> int:
    optional = [a.removeprefix(_OPTIONAL_FLAG) for a in argv if a.startswith(_OPTIONAL_FLAG)]
    argv = [a for a in argv if not a.startswith(_OPTIONAL_FLAG)]
    if not [a for a in argv if not a.startswith("-")]:
        print("pytest_main: no test files given", file=sys.stderr)
        return 2
    # -p no:cacheprovider: the runfiles tree is read-only.
    rc = int(pytest.main(["-q", "-p", "no:cacheprovider", *argv]))
    if rc == pytest.ExitCode.NO_TESTS_COLLECTED and optional:
        missing = _missing(optional)
        if missing:
            print(f"pytest_main: no test ran: {', '.join(missing)} not installed (reasons above)")
            return 0
        print(
            f"pytest_main: FAILED: no test was collected although {', '.join(optional)} "
            "can be imported"
        )
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
