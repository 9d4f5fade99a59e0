"""The generator CLI, run as a subprocess (tools.marlin_gen.main and the upstream-style shim)."""

import os
import re
import shutil
import subprocess
import sys

import pytest
import upstream_golden

from tools.marlin_gen import checked_in

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIM = os.path.join(REPO_ROOT, "tools", "generate_kernels.py")
FULL = "7.5,8.0,8.9,9.0"


def _run(*args, shim=False, workspace=None):
    command = [sys.executable, SHIM] if shim else [sys.executable, "-m", "tools.marlin_gen.main"]
    env = dict(os.environ)
    env.pop("BUILD_WORKING_DIRECTORY", None)
    env.pop("BUILD_WORKSPACE_DIRECTORY", None)
    if workspace is not None:
        env["BUILD_WORKSPACE_DIRECTORY"] = str(workspace)
    return subprocess.run(
        command + list(args), cwd=REPO_ROOT, capture_output=True, text=True, env=env, check=False
    )


def _ok(*args, **kwargs):
    result = _run(*args, **kwargs)
    assert result.returncode == 0, result.stderr
    return result


def _read_dir(path):
    out = {}
    for name in sorted(os.listdir(path)):
        with open(os.path.join(path, name), "rb") as f:
            out[name] = f.read()
    return out


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    _ok(f"--archs={FULL}", f"--out_dir={out}")
    return _read_dir(out)


def test_upstream_invocation_through_the_shim(tmp_path, full_run):
    # Under Bazel the shim is a data dependency of this test (it must never be skipped).
    assert os.path.isfile(SHIM), f"{SHIM} is missing: the shim is untested"
    _ok(FULL, f"--out_dir={tmp_path}", shim=True)
    assert _read_dir(tmp_path) == full_run


def test_shim_errors_name_the_value_without_traceback(tmp_path):
    result = _run("8.0,sm_8x", f"--out_dir={tmp_path / 'out'}", shim=True)
    assert result.returncode != 0
    assert "'sm_8x'" in result.stderr and "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "out")


def test_full_run_writes_the_upstream_file_set(full_run):
    upstream = upstream_golden.load()[FULL]["files"]
    assert sorted(full_run) == sorted(list(upstream) + ["kernel_selector.h", "manifest.json"])


def test_bazel_arch_forms(tmp_path):
    _ok("--archs=sm_80,compute_89", f"--out_dir={tmp_path}")
    assert len([n for n in os.listdir(tmp_path) if n.endswith(".cu")]) == 19


def test_determinism(tmp_path, full_run):
    again = tmp_path / "again"
    _ok(FULL, f"--out_dir={again}")
    assert _read_dir(again) == full_run
    result = _ok(FULL, f"--out_dir={again}")
    assert "0 file(s) written, 28 unchanged" in result.stdout


def test_only_writes_just_the_named_file(tmp_path, full_run):
    name = "sm75_kernel_s8_u4b8_float16.cu"
    _ok(f"--only={name}", f"--out_dir={tmp_path}")  # no arch list needed for .cu files
    assert _read_dir(tmp_path) == {name: full_run[name]}
    selector_dir = tmp_path / "selector"
    _ok(
        FULL,
        "--only=kernel_selector.h,sm80_kernel_float16_u4_float16.cu",
        f"--out_dir={selector_dir}",
    )
    assert _read_dir(selector_dir) == {
        n: full_run[n] for n in ("kernel_selector.h", "sm80_kernel_float16_u4_float16.cu")
    }


def test_from_manifest(tmp_path, full_run):
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(full_run["manifest.json"])
    out = tmp_path / "out"
    _ok(f"--from_manifest={manifest}", f"--out_dir={out}")
    assert _read_dir(out) == {"kernel_selector.h": full_run["kernel_selector.h"]}


def test_bzl_plan(tmp_path):
    path = tmp_path / "kernel_plan.bzl"
    _ok(f"--bzl_plan={path}")
    assert path.read_text() == checked_in.bzl_plan()


def test_update_checked_in_writes_into_the_bazel_run_workspace(tmp_path):
    (tmp_path / "tools" / "marlin_gen").mkdir(parents=True)
    (tmp_path / "tools" / "marlin_gen" / "schemes.py").write_text("")
    result = _ok("--update_checked_in", workspace=tmp_path)
    assert f"{len(checked_in.PATHS)} file(s) written, 0 unchanged" in result.stdout
    for path, content in checked_in.files().items():
        assert (tmp_path / path).read_text() == content, path
    result = _ok("--update_checked_in", workspace=tmp_path)
    assert f"0 file(s) written, {len(checked_in.PATHS)} unchanged" in result.stdout


def test_update_checked_in_refuses_other_workspaces(tmp_path):
    result = _run("--update_checked_in", workspace=tmp_path)
    assert result.returncode != 0
    assert "not a rules_marlin checkout" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_timing(tmp_path):
    result = _ok(FULL, f"--out_dir={tmp_path}", "--timing")
    seconds = float(re.search(r"marlin_gen: ([0-9.]+) s", result.stdout).group(1))
    print(f"\ngenerator time for the full {FULL!r} output: {seconds:.3f} s")
    assert seconds < 30


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["8.0,sm_8x", "--out_dir=OUT"], ["'sm_8x'", "sm_80", "8.9+PTX"]),
        (["8.0,sm_81", "--out_dir=OUT"], ["'sm_81'", "sm_75, sm_80, sm_86"]),
        (["--archs=sm_999", "--out_dir=OUT"], ["'sm_999'", "compute_120"]),
        (["7.9", "--out_dir=OUT"], ["'7.9'", "7.0, 7.2, 7.5"]),
        (["0.0", "--out_dir=OUT"], ["'0.0'", "12.1"]),
        (["7.0", "--out_dir=OUT"], ["'7.0' enables no Marlin kernel family", "7.5"]),
        (["7.0,7.2", "--out_dir=OUT"], ["enables no Marlin kernel family"]),
        (["8", "--out_dir=OUT"], ["'8'", "sm_80"]),
        (["--archs=8.0,,8.9", "--out_dir=OUT"], ["empty item"]),
        (["8.0", "--schemes=gptq_int3", "--out_dir=OUT"], ["'gptq_int3'", "gptq_int4, gptq_int8"]),
        (["8.0", "--schemes=", "--out_dir=OUT"], ["--schemes is empty", "awq_int4"]),
        (["8.0", "--preset=tgi", "--out_dir=OUT"], ["tgi", "vllm"]),
        (["8.0"], ["--out_dir is required"]),
        (["8.0", "--out_dir="], ["--out_dir is empty"]),
        (["8.0", "--out_dir= "], ["--out_dir is empty"]),
        (["--bzl_plan="], ["--bzl_plan is empty"]),
        (["--from_manifest=", "--out_dir=OUT"], ["--from_manifest is empty"]),
        (["8.0", "--update_checked_in"], ["--out_dir is required with --archs"]),
        (["--out_dir=OUT"], ["--archs", "required"]),
        (["8.0", "--archs=8.9", "--out_dir=OUT"], ["positional", "--archs"]),
        (["8.0", "9.0", "--out_dir=OUT"], ["positional"]),
        (
            ["8.0", "--only=sm75_kernel_s8_u4_float16.cu", "--out_dir=OUT"],
            ["'sm75_kernel_s8_u4_float16.cu'", "sm80_kernel_s8_u4_float16.cu", "manifest.json"],
        ),
        (["--only=nope.cu", "--out_dir=OUT"], ["'nope.cu'", "sm75_kernel_s8_u4_float16.cu"]),
        (["--only=manifest.json", "--out_dir=OUT"], ["--archs", "required"]),
        (["--from_manifest=MISSING", "--out_dir=OUT"], ["--from_manifest", "missing.json"]),
        (["--from_manifest=BAD", "--out_dir=OUT"], ["manifest", "not valid JSON"]),
        (["8.0", "--from_manifest=BAD", "--out_dir=OUT"], ["--from_manifest", "--archs"]),
    ],
)
def test_errors_name_the_bad_value_without_traceback(tmp_path, args, words):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    replace = {
        "OUT": str(tmp_path / "out"),
        "MISSING": str(tmp_path / "missing.json"),
        "BAD": str(bad),
    }
    args = [re.sub("OUT|MISSING|BAD", lambda m: replace[m.group(0)], a) for a in args]
    result = _run(*args)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    for word in words:
        assert word in output, output
    assert not os.path.exists(tmp_path / "out")


def test_empty_out_dir_writes_nothing_into_the_current_directory(tmp_path):
    result = subprocess.run(
        [sys.executable, SHIM, "8.0", "--out_dir="],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "--out_dir is empty" in result.stderr
    assert list(tmp_path.iterdir()) == []


def _generator_with_edited_table(tmp_path, old, new):
    """A copy of tools/marlin_gen whose schemes.py has `old` replaced by `new`."""
    package = tmp_path / "tools" / "marlin_gen"
    shutil.copytree(
        os.path.join(REPO_ROOT, "tools", "marlin_gen"),
        package,
        ignore=shutil.ignore_patterns("__pycache__", "BUILD.bazel"),
    )
    schemes_py = package / "schemes.py"
    text = schemes_py.read_text()
    assert old in text
    schemes_py.write_text(text.replace(old, new))
    return tmp_path


@pytest.mark.parametrize(
    ("new_row", "words"),
    [
        (
            'Scheme("awq_int4", st.kU4, format="awq", group_blocks=(-1, 3)),',
            ["'awq_int4'", "group_blocks: 3 is none of (-1, 0, 1, 2, 4, 8)"],
        ),
        (
            'Scheme("awq_int4", st.kU4, format="awq", group_blocks=3),',
            ["'awq_int4'", "non-empty tuple"],
        ),
        (
            'Scheme("awq_int4", "kU4", format="awq"),',
            ["'awq_int4'", "b_type: 'kU4' is not a ScalarType"],
        ),
    ],
)
def test_scheme_table_errors_are_messages_not_tracebacks(tmp_path, new_row, words):
    root = _generator_with_edited_table(
        tmp_path, 'Scheme("awq_int4", st.kU4, format="awq"),', new_row
    )
    out = tmp_path / "out"
    for args in (["8.0", f"--out_dir={out}"], ["--update_checked_in"]):
        result = subprocess.run(
            [sys.executable, "-m", "tools.marlin_gen.main", *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "BUILD_WORKSPACE_DIRECTORY": str(root)},
        )
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        for word in words:
            assert word in result.stderr
    assert not out.exists()
    assert not (root / "marlin").exists()
