"""The scheme table, type ids and row validation."""

import dataclasses

import pytest

from tools.marlin_gen import scalar_types as st
from tools.marlin_gen import schemes

# Reference table ("ScalarType ids"), decimal ids as upstream computes them.
UPSTREAM_IDS = {
    "kFloat16": 1125899906910725,
    "kBFloat16": 1125899906909960,
    "kU4": 1125899906843648,
    "kU4B8": 1125899907892224,
    "kU8B128": 1125899923621888,
    "kS8": 1125899906909952,
    "kFE4M3fn": 2814749767172868,
    "kFE2M1f": 562949953487106,
    "kFE8M0fnu": 2814749767106568,
}

DESIGN_NAMES = (
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
)


@pytest.mark.parametrize(("name", "expected"), sorted(UPSTREAM_IDS.items()))
def test_scalar_type_ids_match_upstream(name, expected):
    assert st.from_name(name).id == expected


def test_name_tables():
    assert st.file_name(st.kU4B8) == "u4b8"
    assert st.file_name(st.kFE4M3fn) == "fe4m3fn"
    assert st.file_name(st.kBFloat16) == "bfloat16"
    assert st.cpp_id(st.kU4B8) == "marlin::kU4B8.id()"
    expected = [
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
    assert [st.selector_index(st.from_name(n)) for n in expected] == list(range(11))
    assert st.selector_index(st.ScalarType("kOther", 1, 1, True)) == 15
    with pytest.raises(ValueError, match="kFloat16"):
        st.from_name("kNope")


def test_table_names_and_order_follow_the_design():
    assert tuple(s.name for s in schemes.SCHEMES) == DESIGN_NAMES
    assert [s.format for s in schemes.SCHEMES] == [
        "awq",
        "hqq",
        "gptq",
        "gptq",
        "fp8",
        "nvfp4",
        "mxfp4",
        "awq",
        "gptq",
        "gptq",
        "awq",
        "mxfp4",
    ]
    assert schemes.PRESETS == {"vllm": DESIGN_NAMES}
    schemes.validate_table()


def _row(name):
    return next(s for s in schemes.SCHEMES if s.name == name)


@pytest.mark.parametrize(
    ("base", "changes", "field", "words"),
    [
        ("nvfp4", {"group_blocks": (1, 2)}, "group_blocks", "kFE4M3fn"),
        ("nvfp4", {"b_type": st.kU4}, "b_type", "kFE2M1f"),
        ("mxfp4", {"group_blocks": (4,)}, "group_blocks", "kFE8M0fnu"),
        ("awq_int4_a_int8", {"group_blocks": (-1, 0)}, "group_blocks", "act-order"),
        ("gptq_int4_a_fp8", {"group_blocks": (0,)}, "group_blocks", "act-order"),
        ("gptq_int4", {"is_zp_float": True}, "is_zp_float", "kU4"),
        (
            "awq_int4",
            {"group_blocks": (-1, 63)},
            "group_blocks",
            "63 is none of (-1, 0, 1, 2, 4, 8)",
        ),
        ("awq_int4", {"group_blocks": (-2,)}, "group_blocks", "-2 is none of"),
        # 15 instantiations per file that no call can select (groups of 48 rows).
        ("awq_int4", {"group_blocks": (-1, 3)}, "group_blocks", "3 is none of"),
        ("awq_int4", {"group_blocks": (16,)}, "group_blocks", "16 is none of"),
        ("awq_int4", {"group_blocks": (2.0,)}, "group_blocks", "2.0 is none of"),
        (
            "awq_int4",
            {"group_blocks": (8,), "thread_configs": ((48, 128, 256),)},
            "group_blocks",
            "never select",
        ),
        ("awq_int4", {"group_blocks": 3}, "group_blocks", "non-empty tuple"),
        ("awq_int4", {"b_type": "kU4"}, "b_type", "not a ScalarType"),
        ("awq_int4", {"a_types": ("kFloat16",)}, "a_types", "not a ScalarType"),
        ("awq_int4", {"thread_configs": ((128, 128),)}, "thread_configs", "(thread_k, thread_n"),
        ("awq_int4", {"thread_configs": [(128, 128, 256)]}, "thread_configs", "non-empty tuple"),
        ("awq_int4", {"is_zp_float": 1}, "is_zp_float", "True or False"),
        ("awq_int4", {"format": "exl2"}, "format", "'exl2' is none of gptq, awq, hqq"),
        ("awq_int4", {"format": "gptq"}, "b_type", "gptq weights are kU4B8,kU8B128, not kU4"),
        ("fp8", {"format": "nvfp4"}, "b_type", "nvfp4 weights are kFE2M1f"),
        ("hqq_int4", {"is_zp_float": False}, "is_zp_float", "hqq"),
        ("awq_int4", {"a_types": (st.kFloat16, st.kS8)}, "a_types", "only one"),
        ("awq_int4", {"m_blocks": (1, 8)}, "m_blocks", "3-bit"),
        ("awq_int4_a_int8", {"m_blocks": (0.5, 1)}, "m_blocks", "16-bit"),
        ("awq_int4", {"thread_configs": ((128, 128, 1024),)}, "thread_configs", "5 bits"),
        ("awq_int4", {"thread_configs": ((128, 1024, 256),)}, "thread_configs", "5 bits"),
        ("awq_int4", {"thread_configs": ((100, 128, 256),)}, "thread_configs", "multiples"),
        (
            "awq_int4",
            {"a_types": (st.kFloat16,), "c_types": (st.kBFloat16,)},
            "a_types",
            "no kernels",
        ),
        ("awq_int4", {"a_types": (st.kU4,)}, "a_types", "activation"),
        ("awq_int4", {"c_types": (st.kS8,)}, "c_types", "output"),
        ("awq_int4", {"c_types": ()}, "c_types", "non-empty"),
        ("awq_int4", {"group_blocks": (2, 2)}, "group_blocks", "duplicates"),
        ("awq_int4", {"b_type": st.ScalarType("kU3", 0, 3, False)}, "b_type", "selector"),
        ("awq_int4", {"s_type": st.kBFloat16}, "s_type", "single c type"),
        ("awq_int4", {"name": "Bad-Name"}, "name", "[a-z]"),
        ("nvfp4", {"s_type": None}, "s_type", "explicit"),
    ],
)
def test_bad_rows_are_rejected_naming_scheme_and_field(base, changes, field, words):
    bad = dataclasses.replace(_row(base), **changes)
    with pytest.raises(schemes.SchemeError) as e:
        schemes.validate_scheme(bad)
    message = str(e.value)
    assert repr(bad.name) in message
    assert f"{field}:" in message
    assert words in message


def test_duplicate_names_and_bad_presets_are_rejected():
    with pytest.raises(schemes.SchemeError, match="twice"):
        schemes.validate_table(schemes.SCHEMES + (_row("fp8"),))
    # Two rows one (format, bits, activation) names: the Python format map would be ambiguous.
    twin = dataclasses.replace(_row("awq_int4"), name="awq_int4_again", group_blocks=(4,))
    with pytest.raises(schemes.SchemeError, match="'awq_int4' and 'awq_int4_again' share format"):
        schemes.validate_table(schemes.SCHEMES + (twin,))
    with pytest.raises(schemes.SchemeError, match="'nope'.*unknown schemes: int3"):
        schemes.validate_table(schemes.SCHEMES, {"nope": ("fp8", "int3")})


def test_select():
    assert [s.name for s in schemes.select("vllm")] == list(DESIGN_NAMES)
    # Selection keeps table order, whatever the order asked for.
    picked = schemes.select("vllm", ["mxfp4", "awq_int4"])
    assert [s.name for s in picked] == ["awq_int4", "mxfp4"]
    with pytest.raises(schemes.SchemeError) as e:
        schemes.select("vllm", ["gptq_int3"])
    assert "'gptq_int3'" in str(e.value) and "gptq_int4" in str(e.value)
    with pytest.raises(schemes.SchemeError, match="empty scheme list; valid: awq_int4"):
        schemes.select("vllm", [])
    with pytest.raises(schemes.SchemeError, match="unknown preset 'x'; valid: vllm"):
        schemes.select("x")
