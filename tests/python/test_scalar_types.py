"""marlin.scalar_types: ids equal the reference table, selector key packing, scheme table."""

import pytest

from marlin import scalar_types as st

# marlin_reference.md, "ScalarType ids" (decimal and hex columns).
REFERENCE = [
    ("kFloat16", (5, 10, 1, 0, 0, 1), 1125899906910725, 0x4000000010A05),
    ("kBFloat16", (8, 7, 1, 0, 0, 1), 1125899906909960, 0x4000000010708),
    ("kU4", (0, 4, 0, 0, 0, 1), 1125899906843648, 0x4000000000400),
    ("kU4B8", (0, 4, 0, 8, 0, 1), 1125899907892224, 0x4000000100400),
    ("kU8B128", (0, 8, 0, 128, 0, 1), 1125899923621888, 0x4000001000800),
    ("kS8", (0, 7, 1, 0, 0, 1), 1125899906909952, 0x4000000010700),
    ("kFE4M3fn", (4, 3, 1, 0, 1, 2), 2814749767172868, 0xA000000010304),
    ("kFE2M1f", (2, 1, 1, 0, 1, 0), 562949953487106, 0x2000000010102),
    ("kFE8M0fnu", (8, 0, 0, 0, 1, 2), 2814749767106568, 0xA000000000008),
]


@pytest.mark.parametrize("name,fields,dec,hx", REFERENCE, ids=[r[0] for r in REFERENCE])
def test_reference_ids(name, fields, dec, hx):
    t = st.from_name(name)
    assert dec == hx
    assert t.id == dec
    exp, man, signed, bias, finite, nan = fields
    assert (t.exponent, t.mantissa, int(t.signed), t.bias, int(t.finite_values_only)) == (
        exp,
        man,
        signed,
        bias,
        finite,
    )
    assert t.nan_repr == nan
    assert st.from_id(dec) is t


def test_negative_bias_is_masked_to_32_bits():
    t = st.ScalarType("x", 0, 3, True, bias=-1)
    assert (t.id >> 17) & 0xFFFFFFFF == 0xFFFFFFFF
    assert t.id < 2**58


def test_unknown_names_and_ids():
    with pytest.raises(ValueError, match="kU4B8"):
        st.from_name("kU5")
    with pytest.raises(ValueError):
        st.from_id(12345)


def test_selector_index_order():
    names = [t.name for t in st.SELECTOR_TYPES]
    assert names == [
        "kFloat16",
        "kBFloat16",
        "kS8",
        "kU4",
        "kU4B8",
        "kU8B128",
        "kFE4M3fn",
        "kFE2M1f",
        "kFE8M0fnu",
        "kS4",
        "kU8",
    ]
    assert st.selector_index(st.ScalarType("other", 1, 1, True)) == 15


def test_scheme_table_matches_design():
    assert [s.name for s in st.SCHEMES] == [
        "awq_int4",
        "hqq_int4",
        "gptq_int4",
        "gptq_int8",
        "fp8",
        "nvfp4",
        "mxfp4",
        "awq_int4_a_int8",
        "gptq_int4_a_int8",
        "gptq_int4_a_fp8",
        "awq_int4_a_fp8",
        "mxfp4_a_fp8",
    ]
    assert st.SCHEMES_BY_NAME["gptq_int4"].group_sizes == (-1, 0, 32, 64, 128)
    assert st.SCHEMES_BY_NAME["nvfp4"].group_sizes == (16,)
    assert st.SCHEMES_BY_NAME["mxfp4_a_fp8"].activation == "fp8"
    assert st.SCHEMES_BY_NAME["awq_int4_a_int8"].activation == "int8"


@pytest.mark.parametrize(
    "args,expected",
    [
        ((st.kFloat16, st.kU4B8, st.kFloat16, st.kFloat16, 0, False), "gptq_int4"),
        ((st.kBFloat16, st.kU4, st.kBFloat16, st.kBFloat16, 8, False), "awq_int4"),
        ((st.kFloat16, st.kU4, st.kFloat16, st.kFloat16, 4, True), "hqq_int4"),
        ((st.kBFloat16, st.kFE2M1f, st.kBFloat16, st.kFE8M0fnu, 2, False), "mxfp4"),
        ((st.kFloat16, st.kFE2M1f, st.kFloat16, st.kFE4M3fn, 1, False), "nvfp4"),
        ((st.kS8, st.kU4B8, st.kBFloat16, st.kBFloat16, 2, False), "gptq_int4_a_int8"),
        ((st.kFE4M3fn, st.kFE2M1f, st.kBFloat16, st.kFE8M0fnu, 2, False), "mxfp4_a_fp8"),
        ((st.kFloat16, st.kU4B8, st.kBFloat16, st.kBFloat16, -1, False), None),  # a != c
        ((st.kS8, st.kU4B8, st.kFloat16, st.kFloat16, 0, False), None),  # no act-order
        ((st.kBFloat16, st.kU4, st.kBFloat16, st.kBFloat16, 4, True), None),  # hqq is f16
    ],
)
def test_scheme_of(args, expected):
    assert st.scheme_of(*args) == expected


def test_built_from_the_generated_table():
    for t in st.SELECTOR_TYPES:
        assert getattr(st, t.name) is t  # every table type is a module constant
    assert st.PRESET == "vllm"
    assert st.SCHEMES_BY_NAME["gptq_int4"].m_blocks == (0.5, 1, 2, 3, 4)
    assert st.SCHEMES_BY_NAME["gptq_int4_a_fp8"].m_blocks == (1, 2, 3, 4)
    assert st.SCHEMES_BY_NAME["nvfp4"].s_type is st.kFE4M3fn
