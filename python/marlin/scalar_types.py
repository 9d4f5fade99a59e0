"""Scalar types of the Marlin kernels (design.md sections 7-8).

A ScalarType is described by six fields; its `id` packs them LSB-first (exponent [0,8),
mantissa [8,16), signed [16], bias [17,49) masked to 32 bits, finite_values_only [49],
nan_repr [50,58)), the same packing as upstream and as the C++ `marlin::ScalarType::id()`.
The ids travel through the C ABI (`marlin_gemm_args.a_type` and friends).

The module also holds the scheme table of design.md section 2 (what the library may have built)
and the selector key packing of section 8, so Python can name a scheme for a kernel config.
"""

from __future__ import annotations

import dataclasses

NAN_NONE = 0
NAN_IEEE_754 = 1
NAN_EXTD_RANGE_MAX_MIN = 2


@dataclasses.dataclass(frozen=True)
class ScalarType:
    """One scalar type: its upstream name plus the six fields of its id."""

    name: str
    exponent: int
    mantissa: int
    signed: bool
    bias: int = 0
    finite_values_only: bool = False
    nan_repr: int = NAN_IEEE_754

    @property
    def id(self) -> int:
        value = self.exponent & 0xFF
        value |= (self.mantissa & 0xFF) << 8
        value |= int(self.signed) << 16
        value |= (self.bias & 0xFFFFFFFF) << 17
        value |= int(self.finite_values_only) << 49
        value |= (self.nan_repr & 0xFF) << 50
        return value

    @property
    def size_bits(self) -> int:
        return self.exponent + self.mantissa + int(self.signed)

    @property
    def is_float(self) -> bool:
        return self.exponent != 0

    def __str__(self) -> str:
        return self.name


kFloat16 = ScalarType("kFloat16", 5, 10, True)
kBFloat16 = ScalarType("kBFloat16", 8, 7, True)
kS4 = ScalarType("kS4", 0, 3, True)
kU4 = ScalarType("kU4", 0, 4, False)
kU4B8 = ScalarType("kU4B8", 0, 4, False, bias=8)
kS8 = ScalarType("kS8", 0, 7, True)
kU8 = ScalarType("kU8", 0, 8, False)
kU8B128 = ScalarType("kU8B128", 0, 8, False, bias=128)
kFE4M3fn = ScalarType("kFE4M3fn", 4, 3, True, 0, True, NAN_EXTD_RANGE_MAX_MIN)
kFE2M1f = ScalarType("kFE2M1f", 2, 1, True, 0, True, NAN_NONE)
kFE8M0fnu = ScalarType("kFE8M0fnu", 8, 0, False, 0, True, NAN_EXTD_RANGE_MAX_MIN)

# Reference ids (marlin_reference.md, "ScalarType ids"); checked at import time.
REFERENCE_IDS = {
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

# Selector type index (design.md section 8): the order is a contract with kernel_config.h.
SELECTOR_TYPES = (
    kFloat16,
    kBFloat16,
    kS8,
    kU4,
    kU4B8,
    kU8B128,
    kFE4M3fn,
    kFE2M1f,
    kFE8M0fnu,
    kS4,
    kU8,
)
UNKNOWN_SELECTOR_INDEX = 15

BY_NAME = {t.name: t for t in SELECTOR_TYPES}
BY_ID = {t.id: t for t in SELECTOR_TYPES}

for _name, _id in REFERENCE_IDS.items():
    assert BY_NAME[_name].id == _id, (_name, BY_NAME[_name].id, _id)


def from_name(name: str) -> ScalarType:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown scalar type {name!r}; valid: {', '.join(sorted(BY_NAME))}"
        ) from None


def from_id(type_id: int) -> ScalarType:
    try:
        return BY_ID[int(type_id)]
    except KeyError:
        raise ValueError(f"unknown scalar type id {type_id}") from None


def name_of(type_id: int) -> str:
    """The name of an id, or the id in hex when it is not a known type."""
    t = BY_ID.get(int(type_id))
    return t.name if t is not None else hex(int(type_id))


def selector_index(t: ScalarType) -> int:
    for i, s in enumerate(SELECTOR_TYPES):
        if s == t:
            return i
    return UNKNOWN_SELECTOR_INDEX


def pack_kernel_key(
    a: ScalarType,
    b: ScalarType,
    c: ScalarType,
    s: ScalarType,
    threads: int,
    thread_m_blocks: int,
    thread_n_blocks: int,
    thread_k_blocks: int,
    m_block_size_8: bool,
    stages: int,
    group_blocks: int,
    is_zp_float: bool,
) -> int:
    """The selector key of design.md section 8 (identical to C++ pack_kernel_key)."""
    return (
        selector_index(a) << 41
        | selector_index(b) << 37
        | selector_index(c) << 33
        | selector_index(s) << 29
        | (threads // 32) << 24
        | thread_m_blocks << 21
        | thread_n_blocks << 16
        | thread_k_blocks << 11
        | int(bool(m_block_size_8)) << 10
        | stages << 7
        | (group_blocks + 1) << 1
        | int(bool(is_zp_float))
    )


# Torch / DLPack dtype names (as in marlin._tensors) of the types that have one.
DTYPE_NAMES = {
    "float16": kFloat16,
    "bfloat16": kBFloat16,
    "int8": kS8,
    "float8_e4m3fn": kFE4M3fn,
    "float8_e8m0fnu": kFE8M0fnu,
}


@dataclasses.dataclass(frozen=True)
class Scheme:
    """One row of design.md section 2. `s_type` None means "equal to the c type"."""

    name: str
    a_types: tuple[ScalarType, ...]
    b_type: ScalarType
    c_types: tuple[ScalarType, ...]
    s_type: ScalarType | None
    group_blocks: tuple[int, ...]
    is_zp_float: bool = False

    @property
    def activation(self) -> str | None:
        """None for 16-bit activations, else "int8" or "fp8"."""
        a = self.a_types[0]
        if a == kS8:
            return "int8"
        if a == kFE4M3fn:
            return "fp8"
        return None

    @property
    def group_sizes(self) -> tuple[int, ...]:
        """Group sizes in elements: -1 channelwise, 0 act-order."""
        return tuple(g if g <= 0 else 16 * g for g in self.group_blocks)


_F16_BF16 = (kFloat16, kBFloat16)
_INT_GROUPS = (-1, 2, 4, 8)

SCHEMES = (
    Scheme("awq_int4", _F16_BF16, kU4, _F16_BF16, None, _INT_GROUPS),
    Scheme("hqq_int4", (kFloat16,), kU4, (kFloat16,), kFloat16, (4,), is_zp_float=True),
    Scheme("gptq_int4", _F16_BF16, kU4B8, _F16_BF16, None, (-1, 0, 2, 4, 8)),
    Scheme("gptq_int8", _F16_BF16, kU8B128, _F16_BF16, None, (-1, 0, 2, 4, 8)),
    Scheme("fp8", _F16_BF16, kFE4M3fn, _F16_BF16, None, (-1, 8)),
    Scheme("nvfp4", _F16_BF16, kFE2M1f, _F16_BF16, kFE4M3fn, (1,)),
    Scheme("mxfp4", (kBFloat16,), kFE2M1f, (kBFloat16,), kFE8M0fnu, (2,)),
    Scheme("awq_int4_a_int8", (kS8,), kU4, _F16_BF16, None, _INT_GROUPS),
    Scheme("gptq_int4_a_int8", (kS8,), kU4B8, _F16_BF16, None, _INT_GROUPS),
    Scheme("gptq_int4_a_fp8", (kFE4M3fn,), kU4B8, _F16_BF16, None, _INT_GROUPS),
    Scheme("awq_int4_a_fp8", (kFE4M3fn,), kU4, _F16_BF16, None, _INT_GROUPS),
    Scheme("mxfp4_a_fp8", (kFE4M3fn,), kFE2M1f, (kBFloat16,), kFE8M0fnu, (2,)),
)
SCHEMES_BY_NAME = {s.name: s for s in SCHEMES}


def scheme_of(
    a: ScalarType, b: ScalarType, c: ScalarType, s: ScalarType, group_blocks: int, is_zp_float: bool
) -> str | None:
    """The scheme a kernel config belongs to, or None when it is in no row of the table."""
    if a.size_bits == 16 and a != c:
        return None
    for sch in SCHEMES:
        s_ok = (s == c) if sch.s_type is None else (s == sch.s_type)
        if (
            a in sch.a_types
            and b == sch.b_type
            and c in sch.c_types
            and s_ok
            and group_blocks in sch.group_blocks
            and bool(is_zp_float) == sch.is_zp_float
        ):
            return sch.name
    return None
