"""Per-arch device actions give the object of one per-file action, byte for byte.

The data are tiny.cu's object and device code built for sm_80, sm_90a and compute_89 under
`--cuda_device_actions=per_file` (one action running every stage of the file's nvcc command) and
`per_arch` (a CudaDeviceCompile action per target arch, then CudaHostCompile).
"""

import os

import conftest
import pytest

from tools import fatbin

TARGETS = ["compute_89", "sm_80", "sm_90a"]
HERE = os.path.join(conftest.REPO_ROOT, "tests", "analysis")


def _read(directory, name):
    with open(os.path.join(HERE, directory, name), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def objects():
    return {mode: _read(f"tiny_{mode}_objects", "tiny.pic.o") for mode in ("per_file", "per_arch")}


def test_each_arch_device_code_is_identical(objects):
    code = {mode: fatbin.object_device_code(data) for mode, data in objects.items()}
    assert sorted(code["per_file"]) == TARGETS
    assert sorted(code["per_arch"]) == TARGETS
    for target in TARGETS:
        a, b = code["per_file"][target], code["per_arch"][target]
        assert a.payload, target
        assert a.header == b.header, target
        assert a.payload == b.payload, (
            f"{target}: per-arch device code differs from the per-file object's"
        )
    # The comparison sees the arch: two archs' cubins differ.
    assert code["per_file"]["sm_80"].payload != code["per_file"]["sm_90a"].payload


def test_every_arch_names_the_local_kernel_with_the_host_code_module_id(objects):
    # The anonymous-namespace kernel's device name embeds the module id; the host code registers
    # it by that name, so each arch's device code must carry the same one.
    data = objects["per_arch"]
    code = fatbin.object_device_code(data)
    marker = b"_GLOBAL__N__"
    start = data.index(marker, data.index(b"tiny_local_kernel") - 200)
    name = data[start : data.index(b"\0", start)]
    assert b"tiny_local_kernel" in name, name
    for target in ("sm_80", "sm_90a"):
        assert name in code[target].payload, target


def test_objects_are_identical(objects):
    assert objects["per_file"] == objects["per_arch"]


def test_device_actions_outputs_are_the_embedded_code(objects):
    code = fatbin.object_device_code(objects["per_arch"])
    for target in TARGETS:
        name = "tiny.pic.o.{}.{}".format(target, "cubin" if target.startswith("sm_") else "ptx")
        data = _read("tiny_per_arch_device_code", name)
        if target.startswith("sm_"):
            # fatbinary keeps small cubins uncompressed: the entry is the action's cubin.
            assert data == code[target].payload, target
            assert data[:4] == b"\x7fELF"
        else:
            assert b".target sm_89" in data
    # per_file has no per-arch outputs (the filegroup is empty: no directory in runfiles).
    empty = os.path.join(HERE, "tiny_per_file_device_code")
    assert not os.path.exists(empty) or not os.listdir(empty)
