"""Tests of benchmarks/gemm_bench.py: make benchmarks/ and python/ importable outside Bazel."""

import os
import sys

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
for _sub, _probe in (("benchmarks", "gemm_bench.py"), ("python", "marlin")):
    _dir = os.path.abspath(os.path.join(_ROOT, _sub))
    if os.path.exists(os.path.join(_dir, _probe)) and _dir not in sys.path:
        sys.path.insert(0, _dir)
