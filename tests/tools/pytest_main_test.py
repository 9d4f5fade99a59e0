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
