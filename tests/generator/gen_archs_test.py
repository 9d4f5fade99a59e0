"""Arch list parsing and validation, the three generator flags, the families they build."""

import itertools

import pytest

from tools.marlin_gen import archs
from tools.marlin_gen import plan


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8.0", (80,)),
        ("7.5,8.0,8.9,9.0", (75, 80, 89, 90)),
        ("8.0,8.9+PTX,12.0a,12.0f", (80, 89, 120)),
        ("9.0a", (90,)),
        ("8.6", (86,)),
        ("10.0f", (100,)),
        ("12.1a+PTX", (121,)),
        ("8.0, 8.9", (80, 89)),
        ("sm_80,sm_90a,compute_89", (80, 89, 90)),
        ("sm_100,sm_120,compute_120", (100, 120)),
        ("sm_75,8.0", (75, 80)),
        ("7.0", (70,)),
        ("7.0,7.2,7.5,8.0,8.6,8.7,8.9,9.0,10.0,10.1,11.0,12.0,12.1", archs.UPSTREAM_ARCHS),
        ("8.0,8.0", (80,)),
    ],
)
def test_parse_arch_list(text, expected):
    assert archs.parse_arch_list(text) == expected


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("8", "'8'"),
        ("sm_8x", "'sm_8x'"),
        ("foo", "'foo'"),
        ("8.0,,8.9", "empty item"),
        ("8.0,", "empty item"),
        ("", "empty arch list"),
        ("  ", "empty arch list"),
        ("sm_8", "'sm_8'"),
        ("8.x", "'8.x'"),
        ("compute_", "'compute_'"),
        ("8.0;8.9", "'8.0;8.9'"),
        # Unknown archs in either form (the Bazel flag refuses the same Bazel-form values).
        ("sm_81", "'sm_81'"),
        ("sm_999", "'sm_999'"),
        ("7.9", "'7.9'"),
        ("0.0", "'0.0'"),
        ("8.1", "'8.1'"),
        ("sm_70", "'sm_70'"),
        ("sm_120f", "'sm_120f'"),
        ("compute_90a", "'compute_90a'"),
        ("SM_80", "'SM_80'"),
        ("sm_90a+PTX", "'sm_90a+PTX'"),
        ("8.05", "'8.05'"),
        ("8.0,sm_81", "'sm_81'"),
    ],
)
def test_bad_arch_lists_name_the_item_and_the_accepted_forms(text, bad):
    with pytest.raises(ValueError) as e:
        archs.parse_arch_list(text)
    assert bad in str(e.value)
    assert "sm_80" in str(e.value) and "8.9+PTX" in str(e.value)


@pytest.mark.parametrize(
    ("text", "sm75", "sm80", "fp8"),
    [
        ("7.5", True, False, False),
        ("8.0", False, True, False),
        ("9.0", False, True, False),
        ("12.1", False, True, False),
        ("8.9", False, True, True),
        ("12.0a", False, True, True),
        ("12.0f", False, True, True),
        ("sm_120", False, True, True),
        ("12.1", False, True, False),
        ("7.0", False, False, False),
        ("7.0,7.2", False, False, False),
        ("7.5,8.0,8.9,9.0", True, True, True),
        ("compute_89", False, True, True),
    ],
)
def test_flags(text, sm75, sm80, fp8):
    assert archs.compute_flags(archs.parse_arch_list(text)) == archs.Flags(sm75, sm80, fp8)


@pytest.mark.parametrize("value", archs.CUDA_ARCHS)
def test_every_cuda_archs_value_parses(value):
    cc = archs.parse_arch(value)
    assert cc in archs.UPSTREAM_ARCHS
    assert archs.parse_arch_list(value) == (cc,)


def _families(values):
    return plan.families_built(archs.compute_flags(archs.parse_arch_list(",".join(values))))


def test_families_of_a_list_are_the_union_of_its_members():
    # The property the Starlark parity test (//tests/analysis:flags_tests_family_parity_test)
    # relies on to compare per --cuda_archs value.
    for a, b in itertools.product(archs.CUDA_ARCHS, repeat=2):
        union = set(_families([a])) | set(_families([b]))
        assert _families([a, b]) == tuple(f for f in plan.FAMILIES if f in union), (a, b)
    assert _families(archs.CUDA_ARCHS) == plan.FAMILIES


@pytest.mark.parametrize(
    ("value", "families"),
    [
        ("sm_75", ("sm75",)),
        ("sm_80", ("sm80",)),
        ("sm_86", ("sm80",)),
        ("sm_89", ("sm80", "sm89")),
        ("sm_90a", ("sm80",)),
        ("sm_120", ("sm80", "sm89")),
        ("compute_89", ("sm80", "sm89")),
        ("compute_100", ("sm80",)),
    ],
)
def test_families_built(value, families):
    assert _families([value]) == families
