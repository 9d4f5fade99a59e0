"""Planner behaviour beyond the four reference arch lists."""

import collections

import pytest

from tools.marlin_gen import archs
from tools.marlin_gen import plan
from tools.marlin_gen import render
from tools.marlin_gen import scalar_types as st
from tools.marlin_gen import schemes


def _flat(arch_list, names=None):
    p = plan.plan_for_archs(arch_list, scheme_names=names)
    return [(f.name, f.family, f.schemes, i, inst) for f, i, inst in p.instantiations]


@pytest.mark.parametrize(
    ("arch_list", "same_as"),
    [
        ("9.0", "8.0"),
        ("12.1", "8.0"),
        ("8.6,9.0", "8.0"),
        ("8.0,8.9,9.0,12.0", "8.0,8.9"),
        ("7.5,8.0,8.9,9.0,10.0,12.0", "7.5,8.0,8.9,9.0"),
        ("7.0,7.5,8.0,8.9,9.0,10.0,12.0", "7.5,8.0,8.9,9.0"),
        ("8.0+PTX,8.9a", "8.0,8.9"),
        ("8.0,12.0f", "8.0,8.9"),
        ("sm_80,compute_89", "8.0,8.9"),
        ("sm_75,sm_80,sm_89,sm_90a", "7.5,8.0,8.9,9.0"),
    ],
)
def test_equivalent_arch_lists(arch_list, same_as):
    assert _flat(arch_list) == _flat(same_as)


def test_sm75_alone():
    p = plan.plan_for_archs("7.5")
    assert len(p.files) == 7
    assert sum(len(f.instantiations) for f in p.files) == 366
    assert {f.family for f in p.files} == {"sm75"}
    assert {inst.stages for _, _, inst in p.instantiations} == {2}
    assert all(inst.c_type == st.kFloat16 for _, _, inst in p.instantiations)


@pytest.mark.parametrize("arch_list", ["7.0", "7.0,7.2"])
def test_old_archs_give_nothing(arch_list):
    p = plan.plan_for_archs(arch_list)
    assert p.files == ()
    assert p.flags == archs.Flags(False, False, False)


def test_families_and_names():
    p = plan.make_plan("vllm", schemes.SCHEMES, archs.ALL)
    for f in p.files:
        a = f.instantiations[0]
        assert f.name == plan.kernel_file_name(f.family, a.a_type, a.b_type, a.c_type)
        assert f.family == (
            "sm89" if a.a_type == st.kFE4M3fn else "sm75" if a.stages == 2 else "sm80"
        )
    assert plan.kernel_file_name("sm80", st.kFloat16, st.kU4B8, st.kFloat16) == (
        "sm80_kernel_float16_u4b8_float16.cu"
    )
    # s_type is not in the name: NVFP4 and MXFP4 share the bf16 file.
    shared = p.file("sm80_kernel_bfloat16_fe2m1f_bfloat16.cu")
    assert shared.schemes == ("nvfp4", "mxfp4")
    with pytest.raises(ValueError, match="sm80"):
        plan.kernel_file_name("sm90", st.kFloat16, st.kU4B8, st.kFloat16)


@pytest.mark.parametrize(
    ("name", "per_pair"),
    [
        ("awq_int4", 60),
        ("hqq_int4", 15),
        ("gptq_int4", 75),
        ("gptq_int8", 75),
        ("fp8", 30),
        ("nvfp4", 15),
        ("mxfp4", 15),
        ("awq_int4_a_int8", 48),
        ("gptq_int4_a_int8", 48),
        ("gptq_int4_a_fp8", 48),
        ("awq_int4_a_fp8", 48),
        ("mxfp4_a_fp8", 12),
    ],
)
def test_counts_per_entry(name, per_pair):
    p = plan.plan_for_archs("8.0,8.9", scheme_names=[name])
    counts = collections.Counter((inst.a_type, inst.c_type) for _, _, inst in p.instantiations)
    assert set(counts.values()) == {per_pair}


def test_thread_configs_per_m_block():
    p = plan.plan_for_archs("8.0", scheme_names=["gptq_int4"])
    by_m = collections.defaultdict(list)
    for f, _, inst in p.instantiations:
        if f.name.startswith("sm80_kernel_float16") and inst.group_blocks == -1:
            by_m[(inst.thread_m_blocks, inst.m_block_size_8)].append(
                (inst.threads, inst.thread_k_blocks, inst.thread_n_blocks)
            )
    small = [(256, 8, 8), (128, 4, 8), (128, 8, 4)]
    large = [(256, 4, 16), (128, 4, 8), (128, 8, 4)]
    assert by_m == {
        (1, True): small,
        (1, False): small,
        (2, False): large,
        (3, False): large,
        (4, False): large,
    }


def test_fp8_activations_need_the_fp8_flag():
    no_fp8 = plan.plan_for_archs("8.0,9.0")
    assert not any(inst.a_type == st.kFE4M3fn for _, _, inst in no_fp8.instantiations)
    with_fp8 = plan.plan_for_archs("8.0,8.9")
    assert any(f.family == "sm89" for f in with_fp8.files)


def test_kernel_file_content_does_not_depend_on_the_arch_list():
    every = plan.make_plan("vllm", schemes.SCHEMES, archs.ALL)
    for arch_list in ["8.0", "8.0,8.9", "7.5", "7.5,8.0,8.9,9.0", "sm_89"]:
        for f in plan.plan_for_archs(arch_list).files:
            assert render.kernel_file(f) == render.kernel_file(every.file(f.name)), f.name


def test_scheme_subset():
    p = plan.plan_for_archs("7.5,8.0", scheme_names=["gptq_int4"])
    assert [f.name for f in p.files] == [
        "sm80_kernel_float16_u4b8_float16.cu",
        "sm80_kernel_bfloat16_u4b8_bfloat16.cu",
        "sm75_kernel_float16_u4b8_float16.cu",
    ]
    assert {inst.scheme for _, _, inst in p.instantiations} == {"gptq_int4"}
    # A file shared by two schemes holds only the selected one's kernels.
    only_hqq = plan.plan_for_archs("8.0", scheme_names=["hqq_int4"])
    assert [(f.name, len(f.instantiations)) for f in only_hqq.files] == [
        ("sm80_kernel_float16_u4_float16.cu", 15)
    ]
