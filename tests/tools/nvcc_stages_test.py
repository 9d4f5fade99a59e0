"""nvcc_stages: cutting nvcc 13's own stage list into per-arch device runs and a host run.

The inputs are `nvcc --dryrun` outputs recorded from nvcc 13.0 (testdata/; toolkit defines and
include paths shortened) for `-gencode` sm_80 + sm_90a + compute_89, and sm_80 alone.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "marlin", "private", "tools")
)

import nvcc_stages  # noqa: E402


def _dryrun(name):
    with open(os.path.join(HERE, "testdata", name), encoding="utf-8") as f:
        return nvcc_stages.parse_dryrun(f.read())


@pytest.fixture
def three():
    return _dryrun("nvcc13_dryrun_sm80_sm90a_compute89.txt")


def test_parse_dryrun_splits_environment_and_commands(three):
    env, commands = three
    assert "CICC_PATH=/usr/local/cuda/bin/../nvvm/bin" in env
    assert [nvcc_stages.classify(c)["kind"] for c in commands] == [
        "host_cpp",
        "cudafe",
        "device_cpp",
        "cicc",
        "ptxas",
        "device_cpp",
        "cicc",
        "ptxas",
        "device_cpp",
        "cicc",
        "fatbinary",
        "host_cc",
    ]


def test_env_exports_keeps_single_values_only(three):
    env, _ = three
    exports = nvcc_stages.env_exports(env)
    assert "export CICC_PATH=/usr/local/cuda/bin/../nvvm/bin" in exports
    assert not [e for e in exports if e.startswith(("export SYSTEM_INCLUDES", "export LIBRARIES"))]


def test_front_stages_write_the_module_id_once(three):
    _, commands = three
    lines, cudafe_cpp, module_id = nvcc_stages.front_stages(commands)
    assert [nvcc_stages.classify(line)["kind"] for line in lines] == ["host_cpp", "cudafe"]
    assert "--gen_module_id_file" in lines[1]
    assert cudafe_cpp == "w/t.pic.o.compute_89.cudafe1.cpp"
    assert module_id == "w/t.pic.o.module_id"


@pytest.mark.parametrize(
    "target,payload,lines",
    [
        ("sm_80", "w/t.pic.o.compute_80.cubin", 3),
        ("sm_90a", "w/t.pic.o.compute_90a.cubin", 3),
        ("compute_89", "w/t.pic.o.compute_89.ptx", 2),
    ],
)
def test_device_stages_of_one_target(three, target, payload, lines):
    _, commands = three
    got, got_payload, stub, module_id = nvcc_stages.device_stages(commands, target)
    assert got_payload == payload
    assert len(got) == lines
    assert got == [c for c in commands if c in got], "nvcc's own lines, unchanged, in order"
    arch = nvcc_stages.virtual_arch(target)
    assert "-D__CUDA_ARCH_LIST__=800,890,900" in got[0], (
        "the file's whole arch list, as in one nvcc call"
    )
    assert f"-arch {arch} " in got[1]
    # cicc reads the front end's module id: the archs' device code agrees on it.
    assert "--gen_module_id_file" not in got[1]
    assert stub == f"w/t.pic.o.{arch}.cudafe1.stub.c"
    assert module_id == "w/t.pic.o.module_id"
    assert not [line for line in got if "cudafe++" in line or "fatbinary" in line]


def test_device_stages_of_a_target_the_command_lacks(three):
    _, commands = three
    with pytest.raises(nvcc_stages.StageError, match="compute_86"):
        nvcc_stages.device_stages(commands, "sm_86")


def test_host_stages(three):
    _, commands = three
    host = nvcc_stages.host_stages(commands)
    kinds = [nvcc_stages.classify(line)["kind"] for line in host["lines"]]
    assert kinds == ["fatbinary", "host_cc"]
    assert host["cudafe_cpp"] == "w/t.pic.o.compute_89.cudafe1.cpp"
    assert host["stub"] == "w/t.pic.o.compute_89.cudafe1.stub.c"
    assert host["stub_arch"] == "compute_89"
    assert host["object"] == "w/t.pic.o"
    assert [nvcc_stages.image_target(i) for i in host["images"]] == [
        "sm_80",
        "sm_90a",
        "compute_89",
    ]


def test_host_stages_single_arch_stub_without_arch_in_its_name():
    _, commands = _dryrun("nvcc13_dryrun_sm80.txt")
    host = nvcc_stages.host_stages(commands)
    assert host["stub_arch"] == "compute_80"
    assert host["stub"].endswith(".cudafe1.stub.c")


def test_unknown_stage_is_refused(three):
    _, commands = three
    with pytest.raises(nvcc_stages.StageError, match="unknown nvcc stage: nvlink"):
        nvcc_stages.host_stages(commands + ["nvlink --arch=sm_80 x.o"])


def _devices(targets):
    return [(t, t + ".bin", t + ".stub.c") for t in targets]


def test_host_inputs_places_every_device_output(three):
    _, commands = three
    host = nvcc_stages.host_stages(commands)
    copies = nvcc_stages.host_inputs(host, _devices(["sm_80", "sm_90a", "compute_89"]), "front.cpp")
    assert copies == [
        ("front.cpp", "w/t.pic.o.compute_89.cudafe1.cpp"),
        ("sm_80.bin", "w/t.pic.o.compute_80.cubin"),
        ("sm_90a.bin", "w/t.pic.o.compute_90a.cubin"),
        ("compute_89.bin", "w/t.pic.o.compute_89.ptx"),
        ("compute_89.stub.c", "w/t.pic.o.compute_89.cudafe1.stub.c"),
    ]


@pytest.mark.parametrize(
    "targets,message",
    [
        (["sm_80", "sm_90a"], "no device output for fatbinary image compute_89"),
        (["sm_80", "sm_90a", "compute_89", "sm_100"], "does not have: sm_100"),
    ],
)
def test_host_inputs_refuses_missing_or_extra_device_outputs(three, targets, message):
    _, commands = three
    host = nvcc_stages.host_stages(commands)
    with pytest.raises(nvcc_stages.StageError, match=message):
        nvcc_stages.host_inputs(host, _devices(targets), "front.cpp")


def test_canonical_source_makes_the_module_id_seed_location_free(three):
    _, commands = three
    cicc = [c for c in commands if "cicc" in c][0]
    assert '--orig_src_path_name "/tmp/nvx/h/t.cu"' in cicc
    out = nvcc_stages.canonical_source(cicc, "bazel-out/k8/bin/x y.cu")
    assert "--orig_src_path_name 'bazel-out/k8/bin/x y.cu'" in out
    assert "/tmp/nvx/h/t.cu" not in out


def test_parse_device():
    assert nvcc_stages.parse_device("sm_80=a.cubin,a.stub.c") == ("sm_80", "a.cubin", "a.stub.c")
    with pytest.raises(nvcc_stages.StageError):
        nvcc_stages.parse_device("sm_80=a.cubin")
