"""The test runner and suites can fail (issue 8, "tests that cannot fail").

Each case runs the runner or a suite in a subprocess on a situation that used to pass silently:
a target that collects nothing, test_c_abi without the header, the GPU suite without a usable
library under MARLIN_REQUIRE_GPU=1 or on a machine whose torch sees a GPU.
"""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GPU_DIR = os.path.join(ROOT, "tests", "gpu")
# The one runner of every pytest_test (//tools:pytest.bzl), in the runfiles of this test too.
RUNNER = os.path.join(ROOT, "tools", "pytest_main.py")


def _run(args, cwd, **env):
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    full_env.pop("MARLIN_REQUIRE_GPU", None)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300
    )


def test_runner_fails_when_nothing_is_collected_with_torch_installed(tmp_path):
    # tests/python's run_pytest.py passed an empty target when torch was missing, and
    # tests/benchmarks' passed it always; the runner now fails unless an optional import is
    # missing (torch is installed here).
    (tmp_path / "test_nothing.py").write_text("X = 1\n")
    r = _run([RUNNER, "--allow_empty_without=torch", "test_nothing.py"], cwd=tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "no test was collected although torch can be imported" in r.stdout


def test_c_abi_fails_without_the_header(tmp_path):
    # test_c_abi skipped its header checks when c_api.h was missing.
    d = tmp_path / "tests" / "python"
    d.mkdir(parents=True)
    shutil.copy(os.path.join(HERE, "test_c_abi.py"), d / "test_c_abi.py")
    r = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_c_abi.py"], cwd=d)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "c_api.h is missing" in r.stdout or "design.md is missing" in r.stdout


def test_gpu_suite_with_require_gpu_fails_without_a_library(tmp_path):
    # The GPU suite reported 870 skipped and exited 0 when the library was missing.
    missing = str(tmp_path / "no" / "libmarlin.so")
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_gpu_api.py"]
    r = _run(args, cwd=GPU_DIR, MARLIN_LIBRARY=missing, MARLIN_REQUIRE_GPU="1")
    assert r.returncode != 0, r.stdout + r.stderr
    assert "MARLIN_REQUIRE_GPU=1 but the GPU suite cannot run here" in r.stdout + r.stderr
    r = _run(args, cwd=GPU_DIR, MARLIN_LIBRARY=missing)  # without it: skips, as documented
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped" in r.stdout


def _fake_torch_with_a_gpu(root):
    """A `torch` package whose torch.cuda.is_available() is True: the GPU machine, as the
    suite's conftest sees it before it loads the library."""
    pkg = root / "torch"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "__version__ = '0+fake'\n\n\nclass cuda:\n    @staticmethod\n"
        "    def is_available():\n        return True\n"
    )
    return str(root)


def test_gpu_suite_fails_on_a_gpu_machine_without_a_library(tmp_path):
    # Without MARLIN_REQUIRE_GPU, a missing library skipped all 870 tests even where a GPU was
    # visible: on the GPU machine that must fail.
    fake = _fake_torch_with_a_gpu(tmp_path)
    missing = str(tmp_path / "no" / "libmarlin.so")
    path = os.pathsep.join([fake, *(p for p in sys.path if p)])
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_gpu_api.py"]
    r = _run(args, cwd=GPU_DIR, MARLIN_LIBRARY=missing, PYTHONPATH=path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "a CUDA GPU is visible but the GPU suite cannot run" in r.stdout + r.stderr
    # MARLIN_REQUIRE_GPU=0 opts out (collection then stops at the fake torch, not at conftest).
    r = _run(args, cwd=GPU_DIR, MARLIN_LIBRARY=missing, PYTHONPATH=path, MARLIN_REQUIRE_GPU="0")
    assert "the GPU suite cannot run" not in r.stdout + r.stderr
