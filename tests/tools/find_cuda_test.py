"""third_party/cuda/find_cuda.sh (the toolkit search of @local_cuda) with fake
toolkits: a broken nvcc is reported as such, with its error, never as "no nvcc on PATH"."""

import json
import os
import subprocess

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIND_CUDA = os.path.join(REPO_ROOT, "third_party", "cuda", "find_cuda.sh")

_WORKING_NVCC = '#!/bin/sh\necho "Cuda compilation tools, release 12.4, V12.4.131"\n'
_BROKEN_NVCC = (
    "#!/bin/sh\n"
    'echo "nvcc: error while loading shared libraries: libnvvm.so: \\"missing\\"" >&2\n'
    "exit 127\n"
)


def _script(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _toolkit(root, nvcc=_WORKING_NVCC, cudart=True):
    _script(root / "bin" / "nvcc", nvcc)
    (root / "include").mkdir(parents=True)
    (root / "include" / "cuda_runtime.h").write_text("")
    if cudart:
        (root / "lib64").mkdir()
        (root / "lib64" / "libcudart_static.a").write_text("")
    return root


def _find(tmp_path, path_dirs=(), cuda_path=None):
    env = {
        "PATH": os.pathsep.join([*map(str, path_dirs), "/usr/bin", "/bin"]),
        # No /usr/local/cuda*: the system locations are looked up under this empty directory.
        "FIND_CUDA_SYSTEM_ROOT": str(tmp_path / "system"),
    }
    if cuda_path is not None:
        env["CUDA_PATH"] = str(cuda_path)
    result = subprocess.run(
        ["/bin/sh", FIND_CUDA], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(result.stdout)


def test_no_nvcc_anywhere(tmp_path):
    info = _find(tmp_path)
    assert info == {
        "found": False,
        "reason": "no CUDA toolkit: CUDA_PATH is unset, no /usr/local/cuda or "
        "/usr/local/cuda-*, no nvcc on PATH",
    }


def test_broken_nvcc_on_path_is_reported_with_its_error(tmp_path):
    nvcc = _script(tmp_path / "bin" / "nvcc", _BROKEN_NVCC)
    info = _find(tmp_path, [nvcc.parent])
    assert not info["found"]
    assert info["reason"].startswith(f"nvcc at {nvcc} does not run (exit status 127): ")
    assert 'libnvvm.so: "missing"' in info["reason"]  # its message, quotes kept (valid JSON)
    assert "no nvcc on PATH" not in info["reason"]


def test_broken_nvcc_of_a_toolkit_is_reported_with_its_error(tmp_path):
    root = _toolkit(tmp_path / "cuda", nvcc=_BROKEN_NVCC)
    info = _find(tmp_path, cuda_path=root)
    assert not info["found"]
    assert info["reason"].startswith(f"nvcc at {root}/bin/nvcc does not run (exit status 127)")


def test_nvcc_on_path_outside_a_toolkit(tmp_path):
    nvcc = _script(tmp_path / "bin" / "nvcc", _WORKING_NVCC)
    info = _find(tmp_path, [nvcc.parent])
    assert not info["found"]
    assert info["reason"].startswith(f"nvcc at {nvcc} runs, but is not inside a CUDA toolkit")


@pytest.mark.parametrize("via", ["CUDA_PATH", "nvcc on PATH"])
def test_working_toolkit(tmp_path, via):
    root = _toolkit(tmp_path / "cuda")
    if via == "CUDA_PATH":
        info = _find(tmp_path, cuda_path=root)
    else:
        info = _find(tmp_path, [root / "bin"])
    assert info == {
        "found": True,
        "path": str(root),
        "nvcc": f"{root}/bin/nvcc",
        "lib": f"{root}/lib64",
        "version": "12.4",
        "source": via,
    }


def test_toolkit_without_cudart(tmp_path):
    root = _toolkit(tmp_path / "cuda", cudart=False)
    info = _find(tmp_path, cuda_path=root)
    assert info["reason"] == f"no libcudart_static.a under {root} (lib64, lib, targets/*/lib)"
