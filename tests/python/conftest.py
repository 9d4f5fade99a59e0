"""CPU-only tests of the marlin Python package: make python/ importable outside Bazel, and the
real libmarlin.so for the tests that run its GPU-free entry points."""

import ctypes
import os
import sys

import pytest

_PYTHON_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")
if os.path.isdir(os.path.join(_PYTHON_DIR, "marlin")) and _PYTHON_DIR not in sys.path:
    sys.path.insert(0, os.path.abspath(_PYTHON_DIR))

from marlin import _lib  # noqa: E402  (importable only from here on)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _library_path():
    candidates = [
        os.path.join(ROOT, "marlin", "csrc", "libmarlin.so"),  # Bazel runfiles (data dep)
        os.environ.get(_lib.LIBRARY_ENV, ""),
        os.path.join(ROOT, "bazel-bin", "marlin", "csrc", "libmarlin.so"),
    ]
    for path in candidates:
        if path and os.path.exists(path):
            return path
    if os.environ.get("TEST_SRCDIR"):
        pytest.fail(f"libmarlin.so is missing from the runfiles ({candidates[0]})")
    pytest.skip("no libmarlin.so (bazel build //marlin/csrc:libmarlin.so or set MARLIN_LIBRARY)")


@pytest.fixture(scope="module")
def lib():
    """The real libmarlin.so, bound: its GPU-free entry points (argument validation, workspace
    sizes) run on the CPU."""
    return _lib._bind(ctypes.CDLL(_library_path()))


@pytest.fixture
def real_lib(lib, monkeypatch):
    """marlin._lib uses the real library for this test."""
    monkeypatch.setattr(_lib, "_lib", lib)
    return lib
