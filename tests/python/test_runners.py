"""The test runners and suites can fail (issue 8, "tests that cannot fail").

Each case runs a runner or suite in a subprocess on a situation that used to pass silently:
a target that collects nothing, test_c_abi without the header, the GPU suite without a usable
library under MARLIN_REQUIRE_GPU=1.
"""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GPU_DIR = os.path.join(ROOT, "tests", "gpu")


def _run(args, cwd, **env):
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    full_env.pop("MARLIN_REQUIRE_GPU", None)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300
    )


def test_cpu_runner_fails_when_nothing_is_collected(tmp_path):
    # run_pytest turned pytest's "no tests collected" into a pass, whatever the reason.
    (tmp_path / "test_nothing.py").write_text("X = 1\n")
    shutil.copy(os.path.join(HERE, "run_pytest.py"), tmp_path / "run_pytest.py")
    r = _run(["run_pytest.py", "test_nothing.py"], cwd=tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "no test was collected" in r.stdout


def test_gpu_runner_fails_when_nothing_is_collected(tmp_path):
    (tmp_path / "test_nothing.py").write_text("X = 1\n")
    shutil.copy(os.path.join(GPU_DIR, "run_pytest.py"), tmp_path / "run_pytest.py")
    r = _run(["run_pytest.py", "test_nothing.py"], cwd=tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr


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
