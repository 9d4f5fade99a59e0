"""Scalar types of the Marlin kernels and their name tables.

A ScalarType is the same six-field description upstream uses (vLLM's ScalarType); its `id` packs
the fields LSB-first exactly as upstream does, so ids match the C++ `marlin::ScalarType::id()`.
Each type has one upstream name (`kU4B8`); the other spellings are derived from it by the
functions below, so a new type needs one table row.
"""

import dataclasses
import enum


class NanRepr(enum.IntEnum):
    """How a floating point type encodes NaN (upstream's NanRepr values)."""

    NONE = 0
    IEEE_754 = 1
    EXTD_RANGE_MAX_MIN = 2


# (field, shift, width) of the packed id, LSB first: upstream's ScalarType::id() and the C++
# marlin::ScalarType::id(). marlin.scalar_types (Python runtime) gets this table generated.
ID_LAYOUT = (
    ("exponent", 0, 8),
    ("mantissa", 8, 8),
    ("signed", 16, 1),
    ("bias", 17, 32),
    ("finite_values_only", 49, 1),
    ("nan_repr", 50, 8),
)


@dataclasses.dataclass(frozen=True)
class ScalarType:
    """One scalar type: upstream name plus the six fields that make up its id."""

    name: str
    exponent: int
    mantissa: int
    signed: bool
    bias: int = 0
    finite_values_only: bool = False
    nan_repr: NanRepr = NanRepr.IEEE_754

    @property
    def id(self) -> int:
        """The int64 id: the fields of ID_LAYOUT, LSB first, each masked to its width."""
        value = 0
        for field, shift, width in ID_LAYOUT:
            value |= (int(getattr(self, field)) & ((1 << width) - 1)) << shift
        return value

    @property
    def size_bits(self) -> int:
        return self.exponent + self.mantissa + int(self.signed)

    @property
    def is_16bit(self) -> bool:
        """16-bit activation/output types (upstream: the name contains "16")."""
        return self.size_bits == 16


kFloat16 = ScalarType("kFloat16", 5, 10, True)
kBFloat16 = ScalarType("kBFloat16", 8, 7, True)
kS4 = ScalarType("kS4", 0, 3, True)
kU4 = ScalarType("kU4", 0, 4, False)
kU4B8 = ScalarType("kU4B8", 0, 4, False, bias=8)
kS8 = ScalarType("kS8", 0, 7, True)
kU8 = ScalarType("kU8", 0, 8, False)
kU8B128 = ScalarType("kU8B128", 0, 8, False, bias=128)
kFE4M3fn = ScalarType("kFE4M3fn", 4, 3, True, 0, True, NanRepr.EXTD_RANGE_MAX_MIN)
kFE2M1f = ScalarType("kFE2M1f", 2, 1, True, 0, True, NanRepr.NONE)
kFE8M0fnu = ScalarType("kFE8M0fnu", 8, 0, False, 0, True, NanRepr.EXTD_RANGE_MAX_MIN)

# Selector type index (design.md section 8). The order is a contract with kernel_config.h's
# pack_kernel_key; append only. Index 15 means "unknown type" and never matches.
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
_SELECTOR_INDEX = {t.name: i for i, t in enumerate(SELECTOR_TYPES)}


def from_name(name: str) -> ScalarType:
    """Looks a type up by its upstream name (`kU4B8`); ValueError lists the valid names."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown scalar type {name!r}; valid: {', '.join(sorted(BY_NAME))}"
        ) from None


def file_name(t: ScalarType) -> str:
    """File-name spelling: the upstream name without its leading 'k', lower-cased (`u4b8`)."""
    return t.name[1:].lower()


def cpp_id(t: ScalarType) -> str:
    """C++ spelling of the type's id as a template argument (`marlin::kU4B8.id()`)."""
    return f"marlin::{t.name}.id()"


def selector_index(t: ScalarType) -> int:
    """4-bit type index used in the packed selector key (15 for unknown types)."""
    return _SELECTOR_INDEX.get(t.name, UNKNOWN_SELECTOR_INDEX)
