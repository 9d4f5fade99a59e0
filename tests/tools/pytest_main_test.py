"""tools/pytest_main.py (the runner of every pytest_test) fails when no test ran."""

import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(REPO_ROOT, "tools", "pytest_main.py")


def _run(tmp_path, *files):
    return subprocess.run(
        [sys.executable, RUNNER, *[str(f) for f in files]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("body", "returncode"),
    [
        ("def test_ok():\n    pass\n", 0),
        ("def test_fails():\n    assert False\n", 1),
        ("import pytest\n\n\ndef test_skips():\n    pytest.skip('no GPU')\n", 0),
        ("# no tests here\n", 5),
        ("import pytest\n\npytest.skip('no torch', allow_module_level=True)\n", 5),
    ],
)
def test_exit_status_is_pytests(tmp_path, body, returncode):
    test_file = tmp_path / "x_test.py"
    test_file.write_text(body)
    assert _run(tmp_path, test_file).returncode == returncode


def test_no_test_files_is_an_error(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 2
    assert "no test files given" in result.stderr


_SKIPPED_WHOLE = "import pytest\n\npytest.importorskip('{}')\n"


def test_empty_passes_only_while_an_optional_import_is_missing(tmp_path):
    # A module skipped whole for a package the target may lack (optional_imports): passes.
    test_file = tmp_path / "x_test.py"
    test_file.write_text(_SKIPPED_WHOLE.format("no_such_module_xyz"))
    result = _run(tmp_path, "--allow_empty_without=no_such_module_xyz", test_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no_such_module_xyz not installed" in result.stdout
    # The package is there but nothing was collected (a wrong file, a skip for another reason).
    test_file.write_text("# no tests here\n")
    result = _run(tmp_path, "--allow_empty_without=pytest", test_file)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "although pytest can be imported" in result.stdout
    # Without optional_imports a missing package still fails.
    test_file.write_text(_SKIPPED_WHOLE.format("no_such_module_xyz"))
    assert _run(tmp_path, test_file).returncode == 5


def test_optional_imports_do_not_hide_failures(tmp_path):
    test_file = tmp_path / "x_test.py"
    test_file.write_text("def test_fails():\n    assert False\n")
    assert _run(tmp_path, "--allow_empty_without=no_such_module_xyz", test_file).returncode == 1
