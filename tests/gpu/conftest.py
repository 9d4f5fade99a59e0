"""GPU suite setup: skip cleanly without a CUDA GPU, fail without libmarlin.so, seed, report.

Environment:
  MARLIN_LIBRARY       path of libmarlin.so (else the one next to the marlin package)
  MARLIN_TEST_SEED     base seed (default: random, printed in the header and in failures)
  MARLIN_TEST_SCHEMES  comma-separated scheme names to limit the gemm matrix
  MARLIN_GPU_REPORT    write a JSON summary (per scheme pass/fail, worst errors) to this path
  MARLIN_REQUIRE_GPU   1: a missing GPU, torch or libmarlin.so is an error, not a skip of every
                       test (run_gpu_tests.sh of the GPU bundle and the Bazel targets set it).
                       Unset: only a machine without torch or without a visible CUDA GPU
                       skips; where torch sees a GPU, an unusable libmarlin.so is an error
                       (that is the GPU machine, where the suite must run). 0: skip anyway.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_PYTHON_DIR = os.path.abspath(os.path.join(_HERE, "..", "..", "python"))
if os.path.isdir(os.path.join(_PYTHON_DIR, "marlin")) and _PYTHON_DIR not in sys.path:
    sys.path.insert(0, _PYTHON_DIR)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from seed import SEED  # noqa: E402

_results: dict[str, dict] = {}
_case_scheme: dict[str, str] = {}
_started = time.time()


def _skip_reason() -> tuple[str | None, bool]:
    """Why the whole suite cannot run here (None: it can), and whether torch sees a GPU."""
    try:
        import torch
    except ImportError:
        return "torch is not installed (tests/gpu needs torch with CUDA)", False
    if not torch.cuda.is_available():
        return f"no CUDA GPU visible to torch {torch.__version__} (tests/gpu needs one)", False
    import marlin

    try:
        marlin._lib.load()
    except marlin.MarlinError as e:
        return f"libmarlin.so is not usable: {e}", True
    return None, True


_SKIP, _GPU_VISIBLE = _skip_reason()


def pytest_configure(config):
    if not _SKIP:
        return
    require = os.environ.get("MARLIN_REQUIRE_GPU")
    if require == "1":
        raise pytest.UsageError(f"MARLIN_REQUIRE_GPU=1 but the GPU suite cannot run here: {_SKIP}")
    if _GPU_VISIBLE and require != "0":
        raise pytest.UsageError(
            f"a CUDA GPU is visible but the GPU suite cannot run: {_SKIP} (set MARLIN_LIBRARY to "
            "the libmarlin.so to test; MARLIN_REQUIRE_GPU=0 skips every test instead)"
        )


def pytest_report_header(config):
    lines = [f"marlin seed: {SEED} (rerun with MARLIN_TEST_SEED={SEED})"]
    if _SKIP:
        lines.append(f"marlin GPU suite skipped: {_SKIP}")
    else:
        import torch

        import marlin

        lib = marlin.library_candidates()[0]
        major, minor = torch.cuda.get_device_capability()
        lines.append(
            f"marlin library: {lib} ({marlin._lib.num_kernels()} kernels); device: "
            f"{torch.cuda.get_device_name()} sm_{major}{minor}"
        )
        lines.append("built schemes: " + ", ".join(sorted(marlin.built_schemes())))
    return lines


def _in_suite(item) -> bool:
    return os.path.abspath(str(item.fspath)).startswith(_HERE + os.sep)


def pytest_collection_modifyitems(config, items):
    # Hooks of a conftest see the whole session: only touch this folder's tests.
    for item in items:
        if not _in_suite(item):
            continue
        case = getattr(item, "callspec", None) and item.callspec.params.get("case")
        scheme = getattr(case, "scheme", None) or item.module.__name__.rsplit(".", 1)[-1]
        _case_scheme[item.nodeid] = scheme
        if _SKIP:
            item.add_marker(pytest.mark.skip(reason=_SKIP))


def pytest_runtest_logreport(report):
    if report.nodeid not in _case_scheme:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        scheme = _case_scheme[report.nodeid]
        r = _results.setdefault(
            scheme,
            {"passed": 0, "failed": 0, "skipped": 0, "worst_mean_rel": 0.0, "worst_max_rel": 0.0,
             "failures": [], "skip_reasons": []},
        )  # fmt: skip
        outcome = report.outcome
        r[outcome] = r.get(outcome, 0) + 1
        props = dict(report.user_properties)
        if "mean_rel" in props:
            r["worst_mean_rel"] = max(r["worst_mean_rel"], props["mean_rel"])
            r["worst_max_rel"] = max(r["worst_max_rel"], props["max_rel"])
        if outcome == "failed":
            r["failures"].append(report.nodeid.rsplit("::", 1)[-1])
        elif outcome == "skipped":
            reason = (
                report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            )
            if reason not in r["skip_reasons"] and len(r["skip_reasons"]) < 5:
                r["skip_reasons"].append(reason)


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("MARLIN_GPU_REPORT")
    if not path:
        return
    device = None
    if not _SKIP:
        import torch

        device = torch.cuda.get_device_name()
    report = {
        "seed": SEED,
        "skipped_suite": _SKIP,
        "device": device,
        "library": None if _SKIP else __import__("marlin").library_candidates()[0],
        "seconds": round(time.time() - _started, 1),
        "criterion": "mean|out-ref|/mean|ref| < 0.04",
        "schemes": _results,
        "totals": {
            k: sum(r.get(k, 0) for r in _results.values()) for k in ("passed", "failed", "skipped")
        },
    }
    with open(path, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
        f.write("\n")
