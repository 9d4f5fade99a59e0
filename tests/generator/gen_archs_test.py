"""Arch list parsing and the three generator flags."""

import pytest

from tools.marlin_gen import archs


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
        ("sm_120f,sm_100a", (100, 120)),
        ("sm_75,8.0", (75, 80)),
        ("7.0", (70,)),
        ("sm_70", (70,)),
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
        ("sm_120f", False, True, True),
        ("7.0", False, False, False),
        ("7.0,7.2", False, False, False),
        ("7.5,8.0,8.9,9.0", True, True, True),
        ("compute_89", False, True, True),
    ],
)
def test_flags(text, sm75, sm80, fp8):
    assert archs.compute_flags(archs.parse_arch_list(text)) == archs.Flags(sm75, sm80, fp8)
