"""CPU-only tests of the marlin Python package: make python/ importable outside Bazel."""

import os
import sys

_PYTHON_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")
if os.path.isdir(os.path.join(_PYTHON_DIR, "marlin")) and _PYTHON_DIR not in sys.path:
    sys.path.insert(0, os.path.abspath(_PYTHON_DIR))
