#!/usr/bin/env python3
"""Generates Marlin kernel files, kernel_selector.h and manifest.json (upstream-compatible).

Usage:
  python3 tools/generate_kernels.py "7.5,8.0,8.9,9.0" --out_dir=DIR
  python3 tools/generate_kernels.py --update_checked_in   # after editing schemes.py
Flags: --archs --out_dir --preset --schemes --only --from_manifest --bzl_plan --update_checked_in
(see --help).
"""

import os
import sys

# Thin shim over tools/marlin_gen: put the repository root on sys.path so that the package imports
# as tools.marlin_gen, as it does under Bazel.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools.marlin_gen import main  # noqa: E402

if __name__ == "__main__":
    main.run()
