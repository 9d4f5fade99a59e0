"""//python:wheel is a valid wheel that installs into a fresh venv and imports there.

The install is offline (`pip install --no-index --no-deps`); the venv's Python imports marlin
from site-packages with PYTHONPATH and MARLIN_LIBRARY cleared, finds the libmarlin.so inside the
package and calls its C ABI (no GPU needed: marlin_abi_version, marlin_num_kernels).
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile

import pytest


def _wheel() -> str:
    path = os.environ.get("MARLIN_WHEEL")
    if not path:
        pytest.skip("run under Bazel: bazel test //tests/wheel:wheel_test")
    assert os.path.exists(path), path
    return os.path.abspath(path)


def test_wheel_contents_and_record():
    path = _wheel()
    name = os.path.basename(path)
    assert name.startswith("marlin-") and name.endswith("-py3-none-linux_x86_64.whl"), name
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        version = name.split("-")[1]
        info = f"marlin-{version}.dist-info"
        for required in (
            "marlin/__init__.py",
            "marlin/_lib.py",
            "marlin/_generated/__init__.py",
            "marlin/_generated/scheme_table.py",
            "marlin/libmarlin.so",
            "marlin/_build_info.json",
            f"{info}/METADATA",
            f"{info}/WHEEL",
            f"{info}/RECORD",
        ):
            assert required in names, required
        wheel = z.read(f"{info}/WHEEL").decode()
        assert "Root-Is-Purelib: false" in wheel and "Tag: py3-none-linux_x86_64" in wheel
        record = z.read(f"{info}/RECORD").decode().splitlines()
        listed = {}
        for line in record:
            p, digest, size = line.rsplit(",", 2)
            listed[p] = (digest, size)
        assert set(listed) == names
        for p in names - {f"{info}/RECORD"}:
            data = z.read(p)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert listed[p] == (f"sha256={want}", str(len(data))), p
        build = json.loads(z.read("marlin/_build_info.json"))
        assert build["cuda_archs"] and build["schemes"] and build["version"] == version


def test_installs_into_a_fresh_venv_and_imports(tmp_path):
    wheel = _wheel()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MARLIN_LIBRARY")}
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel],
        check=True,
        env=env,
    )
    probe = (
        "import json, marlin; from marlin import _lib; "
        "print(json.dumps({'file': marlin.__file__, 'lib': _lib.library_candidates()[0], "
        "'abi': marlin.abi_version(), 'kernels': _lib.num_kernels()}))"
    )
    out = subprocess.run(
        [py, "-c", probe], check=True, env=env, cwd=str(tmp_path), capture_output=True, text=True
    )
    got = json.loads(out.stdout)
    site = str(venv)
    assert got["file"].startswith(site), got
    assert got["lib"] == os.path.join(os.path.dirname(got["file"]), "libmarlin.so"), got
    assert got["abi"] == 1
    assert got["kernels"] > 0
