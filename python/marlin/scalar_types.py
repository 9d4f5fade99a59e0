"""Scalar types of the Marlin kernels (design.md sections 7-8) and the scheme table (section 2).

A ScalarType is described by six fields; its `id` packs them LSB-first (exponent [0,8),
mantissa [8,16), signed [16], bias [17,49) masked to 32 bits, finite_values_only [49],
nan_repr [50,58)), the same packing as upstream and as the C++ `marlin::ScalarType::id()`.
The ids travel through the C ABI (`marlin_gemm_args.a_type` and friends).

The module also holds the scheme table of design.md section 2 (what the library may have built)
and the selector key packing of section 8, so Python can name a scheme for a kernel config.
The data (types, id and key layouts, scheme rows) comes from `_generated/scheme_table.py`, which
tools/marlin_gen generates from its schemes.py; only the code that reads it lives here.
"""

from __future__ import annotations

import dataclasses

from marlin._generated import scheme_table as _table

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
        value = 0
        for field, shift, width in _table.ID_LAYOUT:
            value |= (int(getattr(self, field)) & ((1 << width) - 1)) << shift
        return value

    @property
    def size_bits(self) -> int:
        return self.exponent + self.mantissa + int(self.signed)

    def __str__(self) -> str:
        return self.name


def _types_from_table() -> tuple[ScalarType, ...]:
    types = []
    for *fields, type_id in _table.SCALAR_TYPES:
        t = ScalarType(*fields)
        assert t.id == type_id, (t.name, t.id, type_id)
        types.append(t)
    return tuple(types)


# Selector type index (design.md section 8): the order is a contract with kernel_config.h.
SELECTOR_TYPES = _types_from_table()
UNKNOWN_SELECTOR_INDEX = _table.UNKNOWN_TYPE_INDEX

BY_NAME = {t.name: t for t in SELECTOR_TYPES}
BY_ID = {t.id: t for t in SELECTOR_TYPES}
_SELECTOR_INDEX = {t: i for i, t in enumerate(SELECTOR_TYPES)}

kFloat16 = BY_NAME["kFloat16"]
kBFloat16 = BY_NAME["kBFloat16"]
kS4 = BY_NAME["kS4"]
kU4 = BY_NAME["kU4"]
kU4B8 = BY_NAME["kU4B8"]
kS8 = BY_NAME["kS8"]
kU8 = BY_NAME["kU8"]
kU8B128 = BY_NAME["kU8B128"]
kFE4M3fn = BY_NAME["kFE4M3fn"]
kFE2M1f = BY_NAME["kFE2M1f"]
kFE8M0fnu = BY_NAME["kFE8M0fnu"]


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


def selector_index(t: ScalarType) -> int:
    return _SELECTOR_INDEX.get(t, UNKNOWN_SELECTOR_INDEX)


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
    m_blocks: tuple[float, ...] = ()  # 0.5: the 8-row tile (m_block_size_8)

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


def _scheme_from_row(row: dict) -> Scheme:
    return Scheme(
        name=row["name"],
        a_types=tuple(BY_NAME[n] for n in row["a_types"]),
        b_type=BY_NAME[row["b_type"]],
        c_types=tuple(BY_NAME[n] for n in row["c_types"]),
        s_type=None if row["s_type"] is None else BY_NAME[row["s_type"]],
        group_blocks=tuple(row["group_blocks"]),
        is_zp_float=row["is_zp_float"],
        m_blocks=tuple(row["m_blocks"]),
    )


PRESET = _table.PRESET  # the preset whose schemes SCHEMES lists
SCHEMES = tuple(_scheme_from_row(row) for row in _table.SCHEMES)
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
