"""`pytest_test`: a `py_test` that runs pytest on its test files, through one shared runner.

    load("//tools:pytest.bzl", "pytest_test")

    pytest_test(
        name = "gen_archs_test",  # runs gen_archs_test.py
        deps = [":test_support"],
    )

The runner (`//tools:pytest_main.py`) exits with pytest's status: a failure, an error, and also
"no tests collected" (exit status 5, e.g. a test file whose tests were all deselected or that
holds none) fail the test. Tests that skip themselves still pass, as pytest reports them; a file
skipped whole for a missing package collects nothing, which passes only for the packages the
target names in `optional_imports` and only while one of them is missing.
Tests run as they do outside Bazel (`python3 -m pytest tests/...` from the repository root): each
test file's directory is on `sys.path`, and a `conftest.py` there can add the repository root.
"""

_MAIN = Label("//tools:pytest_main.py")
_PYTEST = Label("@marlin_pip//:pytest")

def pytest_test(name, tests = None, srcs = [], deps = [], args = [], optional_imports = [], **kwargs):
    """Declares a `py_test` `name` running pytest on `tests`.

    Args:
      name: the test's name.
      tests: the test files pytest runs (default `[name + ".py"]`).
      srcs: other Python sources of the test (conftest.py, helpers); pytest collects no tests
        from them.
      deps: `py_library` targets the tests import (pytest itself, `@marlin_pip//:pytest`, is
        added).
      args: extra pytest arguments, after the test files.
      optional_imports: modules whose absence may leave the test files collecting nothing
        (`pytest.importorskip("torch")` at module level, with `--repo_env=MARLIN_PIP_SKIP=torch`):
        then the test passes with the reason. While they are all importable, collecting nothing
        still fails.
      **kwargs: passed to `py_test` (`size`, `data`, `tags`, ...).
    """
    tests = tests or [name + ".py"]
    native.py_test(
        name = name,
        srcs = tests + srcs + [_MAIN],
        main = _MAIN,
        args = ["--allow_empty_without=" + m for m in optional_imports] +
               ["$(rootpath {})".format(t) for t in tests] + args,
        # No __init__.py files in the runfiles: pytest then puts each test file's directory on
        # sys.path, so tests import their helpers (`import upstream_golden`) as outside Bazel.
        legacy_create_init = False,
        python_version = "PY3",
        srcs_version = "PY3",
        deps = deps + [_PYTEST],
        **kwargs
    )
