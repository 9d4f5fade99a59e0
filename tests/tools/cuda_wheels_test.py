"""third_party/cuda/cuda_wheels.py (the worker of --config=hermetic_cuda's @cuda_wheels): the
sha256 check of the pinned wheels and the toolkit layout, with small fake wheels (no pip)."""

import ast
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(REPO_ROOT, "third_party", "cuda", "cuda_wheels.py")
sys.path.insert(0, os.path.dirname(WORKER))

import cuda_wheels  # noqa: E402

_NVCC = '#!/bin/sh\necho "Cuda compilation tools, release 13.0, V13.0.88"\n'


def _wheel(path, files):
    """A wheel-shaped zip: {name: (text, mode)}."""
    with zipfile.ZipFile(path, "w") as z:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            z.writestr(info, text)
    return path


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fake_wheels(tmp_path):
    d = tmp_path / "wheels"
    d.mkdir()
    nvcc = _wheel(
        d / "nvidia_cuda_nvcc-13.0.88-py3-none-x.whl",
        {
            "nvidia/cu13/bin/nvcc": (_NVCC, 0o744),
            "nvidia/cu13/bin/nvcc.profile": ("TOP = $(_HERE_)/..\n", 0o644),
            "nvidia/cu13/include/fatbinary_section.h": ("", 0o644),
            "nvidia_cuda_nvcc-13.0.88.dist-info/METADATA": ("Name: nvidia-cuda-nvcc\n", 0o644),
        },
    )
    runtime = _wheel(
        d / "nvidia_cuda_runtime-13.0.96-py3-none-x.whl",
        {
            "nvidia/cu13/include/cuda_runtime.h": ("// runtime\n", 0o644),
            "nvidia/cu13/lib/libcudart_static.a": ("!<arch>\n", 0o644),
            "nvidia/cu13/.metadata/provenance.txt": ("", 0o644),
        },
    )
    pins = [
        {"name": "nvidia-cuda-nvcc", "version": "13.0.88", "file": nvcc.name, "sha256": _sha(nvcc)},
        {
            "name": "nvidia-cuda-runtime",
            "version": "13.0.96",
            "file": runtime.name,
            "sha256": _sha(runtime),
        },
    ]
    return d, pins


def _run(tmp_path, wheel_dir, pins):
    pins_file = tmp_path / "pins.json"
    pins_file.write_text(json.dumps(pins))
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run(
        [sys.executable, WORKER, "--pins", str(pins_file), "--out", str(out)]
        + ["--wheel_dir", str(wheel_dir)],
        capture_output=True,
        text=True,
    )
    return r, out


def test_verify_accepts_matching_wheels():
    pins = [{"name": "a", "version": "1", "file": "a-1.whl", "sha256": "0" * 64}]
    assert cuda_wheels.verify(pins, {"a-1.whl": "0" * 64}) == []


def test_verify_names_the_wheel_whose_sha256_differs():
    pins = [
        {"name": "nvidia-cuda-nvcc", "version": "13.0.88", "file": "nvcc.whl", "sha256": "1" * 64},
        {"name": "nvidia-nvvm", "version": "13.0.88", "file": "nvvm.whl", "sha256": "2" * 64},
    ]
    errors = cuda_wheels.verify(pins, {"nvcc.whl": "f" * 64, "nvvm.whl": "2" * 64})
    assert len(errors) == 1
    assert errors[0].startswith("nvcc.whl (nvidia-cuda-nvcc==13.0.88): sha256 " + "f" * 64)
    assert "does not match the pin " + "1" * 64 in errors[0]
    assert "third_party/cuda/wheels.bzl" in errors[0]


def test_verify_names_a_missing_wheel():
    pins = [{"name": "nvidia-nvvm", "version": "13.0.88", "file": "nvvm.whl", "sha256": "2" * 64}]
    errors = cuda_wheels.verify(pins, {"other.whl": "2" * 64})
    assert errors == ["nvvm.whl (nvidia-nvvm==13.0.88): not downloaded; pip fetched: other.whl"]


def test_assembles_a_toolkit_from_matching_wheels(tmp_path):
    wheel_dir, pins = _fake_wheels(tmp_path)
    r, out = _run(tmp_path, wheel_dir, pins)
    assert r.returncode == 0, r.stderr
    info = json.loads((out / "toolkit.json").read_text())
    assert info == {
        "nvcc": "13.0.88",
        "version": "13.0",
        "wheels": ["nvidia-cuda-nvcc==13.0.88", "nvidia-cuda-runtime==13.0.96"],
    }
    assert os.access(out / "bin" / "nvcc", os.X_OK)
    assert not os.access(out / "bin" / "nvcc.profile", os.X_OK)
    target = out / "targets" / "x86_64-linux"
    assert (target / "include" / "cuda_runtime.h").read_text() == "// runtime\n"
    assert (target / "lib" / "libcudart_static.a").is_file()
    assert os.readlink(out / "include") == "targets/x86_64-linux/include"
    assert not (out / ".metadata").exists()
    assert not list(out.glob("*.dist-info"))


def test_a_wrong_sha256_fails_naming_the_wheel_and_unpacks_nothing(tmp_path):
    wheel_dir, pins = _fake_wheels(tmp_path)
    pins[1]["sha256"] = "0" * 64
    r, out = _run(tmp_path, wheel_dir, pins)
    assert r.returncode == 1
    assert "nvidia_cuda_runtime-13.0.96-py3-none-x.whl (nvidia-cuda-runtime==13.0.96)" in r.stderr
    assert "does not match the pin " + "0" * 64 in r.stderr
    assert "nvidia_cuda_nvcc" not in r.stderr
    assert os.listdir(out) == []


def test_a_wheel_changed_after_pinning_fails(tmp_path):
    wheel_dir, pins = _fake_wheels(tmp_path)
    with open(wheel_dir / pins[0]["file"], "ab") as f:
        f.write(b"\0")
    r, _ = _run(tmp_path, wheel_dir, pins)
    assert r.returncode == 1
    assert pins[0]["file"] + " (nvidia-cuda-nvcc==13.0.88): sha256" in r.stderr


def test_two_wheels_shipping_one_path_differently_fail(tmp_path):
    wheel_dir, pins = _fake_wheels(tmp_path)
    clash = _wheel(
        wheel_dir / "clash-1-py3-none-x.whl",
        {"nvidia/cu13/include/cuda_runtime.h": ("// other\n", 0o644)},
    )
    pins.append({"name": "clash", "version": "1", "file": clash.name, "sha256": _sha(clash)})
    r, _ = _run(tmp_path, wheel_dir, pins)
    assert r.returncode == 1
    assert "both ship targets/x86_64-linux/include/cuda_runtime.h" in r.stderr


def test_the_pins_are_complete_and_well_formed():
    with open(os.path.join(REPO_ROOT, "third_party", "cuda", "wheels.bzl")) as f:
        text = f.read()
    # The list literal is the rest of the file, in the syntax Python and Starlark share.
    pins = ast.literal_eval(text[text.index("CUDA_WHEELS = ") + len("CUDA_WHEELS = ") :])
    names = {p["name"] for p in pins}
    assert names == {
        "nvidia-cuda-nvcc",
        "nvidia-cuda-crt",
        "nvidia-nvvm",
        "nvidia-cuda-runtime",
        "nvidia-cuda-cccl",
    }
    for p in pins:
        assert len(p["sha256"]) == 64 and int(p["sha256"], 16) >= 0, p
        stem = p["name"].replace("-", "_") + "-" + p["version"] + "-"
        assert p["file"].startswith(stem) and p["file"].endswith(".whl"), p


def test_unpack_keeps_only_the_toolkit_tree(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("nvidia/cu13/nvvm/bin/cicc", "x")
        z.writestr("nvidia/__init__.py", "")
    wheel = tmp_path / "w.whl"
    wheel.write_bytes(buf.getvalue())
    out = tmp_path / "out"
    cuda_wheels.unpack(str(wheel), str(out), {})
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "nvvm/bin/cicc"
    ]
