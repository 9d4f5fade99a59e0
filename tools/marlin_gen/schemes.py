"""The quantization scheme table (data only) and its validation.

validate_table() runs in main.py before anything is generated (and in the tests), not at
import: a bad row is then an error message naming it, not a traceback from an import.

The rows are in upstream's order, which is normative: it fixes the order of instantiations in
kernel files and of kernel files in the generation (selector) order. Names are the contract of
design.md section 2 (`--schemes`, `--//marlin:schemes`, manifest, docs).
"""

import dataclasses
import re

from tools.marlin_gen import scalar_types as st
from tools.marlin_gen import selector_key

# Thread configs as (thread_k, thread_n, threads), in upstream's emission order.
THREAD_CONFIGS = ((128, 128, 256), (64, 256, 256), (64, 128, 128), (128, 64, 128))

# m-blocks; 0.5 means thread_m_blocks = 1 with m_block_size_8 = true.
M_BLOCKS_16BIT = (0.5, 1, 2, 3, 4)
M_BLOCKS_8BIT = (1, 2, 3, 4)

ACTIVATION_TYPES = (st.kFloat16, st.kBFloat16, st.kS8, st.kFE4M3fn)
OUTPUT_TYPES = (st.kFloat16, st.kBFloat16)

# The group_blocks Marlin kernels serve (upstream's set; the host passes group size / 16 of the
# checkpoint): -1 channelwise, 0 act-order (g_idx), else groups of 16 (NVFP4), 32 (MXFP4), 64
# and 128 rows. Any other value would build kernels that no call selects.
GROUP_BLOCKS = (-1, 0, 1, 2, 4, 8)
_GROUP_BLOCKS_MEANING = "-1 channelwise, 0 act-order, else group size / 16 for groups of 16..128"

# Checkpoint formats (marlin.prepare_weights(format=...)) and the weight types each may carry.
# A format, the weight bit width and the activation type name one scheme (validate_table), so the
# Python package derives its format -> scheme map from the generated table.
FORMAT_B_TYPES = {
    "gptq": (st.kU4B8, st.kU8B128),
    "awq": (st.kU4,),
    "hqq": (st.kU4,),
    "fp8": (st.kFE4M3fn,),
    "nvfp4": (st.kFE2M1f,),
    "mxfp4": (st.kFE2M1f,),
}

# Pipeline stages per kernel family.
STAGES_SM80 = 4
STAGES_SM75 = 2

_F16_BF16 = (st.kFloat16, st.kBFloat16)


@dataclasses.dataclass(frozen=True)
class Scheme:
    """One row of the table: a weight type with its activation/output/scale types and tilings.

    s_type None means "same as the output (c) type".
    """

    name: str
    b_type: st.ScalarType
    format: str  # the Python API's checkpoint format, a key of FORMAT_B_TYPES
    a_types: tuple = _F16_BF16
    c_types: tuple = _F16_BF16
    s_type: st.ScalarType | None = None
    group_blocks: tuple = (-1, 2, 4, 8)
    m_blocks: tuple = M_BLOCKS_16BIT
    is_zp_float: bool = False
    thread_configs: tuple = THREAD_CONFIGS


SCHEMES = (
    Scheme("awq_int4", st.kU4, format="awq"),
    Scheme(
        "hqq_int4",
        st.kU4,
        format="hqq",
        a_types=(st.kFloat16,),
        c_types=(st.kFloat16,),
        s_type=st.kFloat16,
        group_blocks=(4,),
        is_zp_float=True,
    ),
    Scheme("gptq_int4", st.kU4B8, format="gptq", group_blocks=(-1, 0, 2, 4, 8)),
    Scheme("gptq_int8", st.kU8B128, format="gptq", group_blocks=(-1, 0, 2, 4, 8)),
    Scheme("fp8", st.kFE4M3fn, format="fp8", group_blocks=(-1, 8)),
    Scheme("nvfp4", st.kFE2M1f, format="nvfp4", s_type=st.kFE4M3fn, group_blocks=(1,)),
    Scheme(
        "mxfp4",
        st.kFE2M1f,
        format="mxfp4",
        a_types=(st.kBFloat16,),
        c_types=(st.kBFloat16,),
        s_type=st.kFE8M0fnu,
        group_blocks=(2,),
    ),
    Scheme("awq_int4_a_int8", st.kU4, format="awq", a_types=(st.kS8,), m_blocks=M_BLOCKS_8BIT),
    Scheme("gptq_int4_a_int8", st.kU4B8, format="gptq", a_types=(st.kS8,), m_blocks=M_BLOCKS_8BIT),
    Scheme(
        "gptq_int4_a_fp8", st.kU4B8, format="gptq", a_types=(st.kFE4M3fn,), m_blocks=M_BLOCKS_8BIT
    ),
    Scheme("awq_int4_a_fp8", st.kU4, format="awq", a_types=(st.kFE4M3fn,), m_blocks=M_BLOCKS_8BIT),
    Scheme(
        "mxfp4_a_fp8",
        st.kFE2M1f,
        format="mxfp4",
        a_types=(st.kFE4M3fn,),
        c_types=(st.kBFloat16,),
        s_type=st.kFE8M0fnu,
        group_blocks=(2,),
        m_blocks=M_BLOCKS_8BIT,
    ),
)

PRESETS = {"vllm": tuple(s.name for s in SCHEMES)}

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Bit widths of the packed selector key fields the table's values must fit (design.md section 8).
_KEY_BITS = selector_key.FIELD_BITS


class SchemeError(ValueError):
    """An inconsistent scheme row or an unknown scheme/preset name."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tiles_group(thread_k: int, group_blocks: int) -> bool:
    """The dispatcher's rule (exec_config.cc try_config): a BK step of thread_k rows covers whole
    groups, or a group whole BK steps."""
    group_rows = 16 * group_blocks
    return group_rows % thread_k == 0 or thread_k % group_rows == 0


def _shape_problems(s: Scheme):
    """Yields (field, problem) for fields of the wrong Python type (checked before the rest)."""
    if not isinstance(s.name, str) or not _NAME_RE.match(s.name):
        yield "name", "must match [a-z][a-z0-9_]*"
    for field in ("a_types", "c_types", "group_blocks", "m_blocks", "thread_configs"):
        values = getattr(s, field)
        if not isinstance(values, tuple) or not values:
            yield field, f"must be a non-empty tuple, got {values!r}"
        elif field == "thread_configs" and not all(
            isinstance(c, tuple) and len(c) == 3 and all(_is_int(x) for x in c) for c in values
        ):
            yield field, f"{values!r}: each must be a tuple (thread_k, thread_n, threads) of ints"
        elif len(set(values)) != len(values):
            yield field, f"has duplicates: {values}"
    for field in ("b_type", "s_type", "a_types", "c_types"):
        value = getattr(s, field)
        values = value if isinstance(value, tuple) else (value,)
        for t in values:
            if not isinstance(t, st.ScalarType) and not (field == "s_type" and t is None):
                yield field, f"{t!r} is not a ScalarType (st.kFloat16, ...)"
    if not isinstance(s.is_zp_float, bool):
        yield "is_zp_float", f"must be True or False, got {s.is_zp_float!r}"
    if s.format not in FORMAT_B_TYPES:
        yield "format", f"{s.format!r} is none of {', '.join(FORMAT_B_TYPES)}"


def _row_problems(s: Scheme):
    """Yields (field, problem) for everything wrong with one row."""
    shape = list(_shape_problems(s))
    if shape:
        yield from shape
        return
    if s.b_type not in FORMAT_B_TYPES[s.format]:
        problem = f"{s.format} weights are {_names(FORMAT_B_TYPES[s.format])}, not {s.b_type.name}"
        yield "b_type", problem
    if s.format == "hqq" and not s.is_zp_float:
        yield "is_zp_float", "hqq (float zero points) needs is_zp_float=True"
    if len(set(s.a_types) & {st.kS8, st.kFE4M3fn}) and len(s.a_types) != 1:
        yield "a_types", "an 8-bit activation type must be the row's only one"
    types = [("b_type", s.b_type)] + [("a_types", a) for a in s.a_types]
    types += [("c_types", c) for c in s.c_types]
    if s.s_type is not None:
        types.append(("s_type", s.s_type))
    for field, t in types:
        if st.selector_index(t) == st.UNKNOWN_SELECTOR_INDEX:
            yield field, f"{t.name} has no selector type index"
    for a in s.a_types:
        if a not in ACTIVATION_TYPES:
            yield "a_types", f"{a.name} is not an activation type ({_names(ACTIVATION_TYPES)})"
        elif a.is_16bit and a not in s.c_types:
            problem = (
                f"16-bit activation {a.name} must equal the output type, but c_types "
                f"{_names(s.c_types)} lacks it, so it would produce no kernels"
            )
            yield "a_types", problem
    for c in s.c_types:
        if c not in OUTPUT_TYPES:
            yield "c_types", f"{c.name} is not an output type ({_names(OUTPUT_TYPES)})"
    if s.s_type == st.kFE4M3fn:
        if s.group_blocks != (1,):
            yield "group_blocks", f"s_type kFE4M3fn (NVFP4) requires (1,), got {s.group_blocks}"
        if s.b_type != st.kFE2M1f:
            yield "b_type", f"s_type kFE4M3fn (NVFP4) requires kFE2M1f, got {s.b_type.name}"
    if s.s_type == st.kFE8M0fnu:
        if s.group_blocks != (2,):
            yield "group_blocks", f"s_type kFE8M0fnu (MXFP4) requires (2,), got {s.group_blocks}"
        if s.b_type != st.kFE2M1f:
            yield "b_type", f"s_type kFE8M0fnu (MXFP4) requires kFE2M1f, got {s.b_type.name}"
    if s.s_type is None and s.b_type == st.kFE2M1f:
        yield "s_type", "kFE2M1f weights need an explicit kFE4M3fn or kFE8M0fnu s_type"
    explicit_s = s.s_type is not None and s.s_type not in (st.kFE4M3fn, st.kFE8M0fnu)
    if explicit_s and (len(s.c_types) != 1 or s.s_type != s.c_types[0]):
        problem = (
            f"{s.s_type.name} must be kFE4M3fn, kFE8M0fnu or the single c type "
            f"(c_types {_names(s.c_types)}); leave it None for 'same as c'"
        )
        yield "s_type", problem
    if 0 in s.group_blocks and not all(a.is_16bit for a in s.a_types):
        yield "group_blocks", "0 (act-order) is only supported with 16-bit activations"
    for g in s.group_blocks:
        if not _is_int(g) or g not in GROUP_BLOCKS:
            yield "group_blocks", f"{g!r} is none of {GROUP_BLOCKS} ({_GROUP_BLOCKS_MEANING})"
        elif g > 0 and not any(_tiles_group(cfg[0], g) for cfg in s.thread_configs):
            problem = (
                f"{g} (groups of {16 * g} rows): no thread config's thread_k is a multiple or a "
                f"divisor of {16 * g}, so the dispatcher can never select these kernels"
            )
            yield "group_blocks", problem
    if s.is_zp_float and s.b_type != st.kU4:
        yield "is_zp_float", f"float zero points need b_type kU4, got {s.b_type.name}"
    for m in s.m_blocks:
        if m == 0.5:
            if not all(a.is_16bit for a in s.a_types):
                yield "m_blocks", "0.5 (m_block_size_8) is only supported with 16-bit activations"
        elif not isinstance(m, int) or isinstance(m, bool):
            yield "m_blocks", f"{m!r} must be 0.5 or an int"
        elif not 1 <= m < (1 << _KEY_BITS["thread_m_blocks"]):
            yield "m_blocks", f"{m} does not fit the 3-bit key field (1..7)"
    for cfg in s.thread_configs:
        thread_k, thread_n, threads = cfg
        if thread_k % 16 or thread_n % 16 or threads % 32:
            yield "thread_configs", f"{cfg}: thread_k/n must be multiples of 16, threads of 32"
            continue
        checks = (
            ("threads / 32", threads // 32),
            ("thread_n_blocks", thread_n // 16),
            ("thread_k_blocks", thread_k // 16),
        )
        for key_field, value in checks:
            if not 1 <= value < (1 << _KEY_BITS[key_field]):
                bits = _KEY_BITS[key_field]
                yield "thread_configs", f"{cfg}: {key_field} = {value} does not fit {bits} bits"


def _names(types) -> str:
    return ",".join(t.name for t in types)


def format_lookup_key(s: Scheme) -> tuple:
    """(format, weight bits, activation) naming `s` in the Python API: activation None for 16-bit
    activations, else "int8" (kS8) or "fp8" (kFE4M3fn)."""
    activation = {st.kS8: "int8", st.kFE4M3fn: "fp8"}.get(s.a_types[0])
    return (s.format, s.b_type.size_bits, activation)


def validate_scheme(s: Scheme) -> None:
    """Raises SchemeError naming the scheme, the field and the problem(s)."""
    problems = list(_row_problems(s))
    if problems:
        details = "; ".join(f"{field}: {problem}" for field, problem in problems)
        raise SchemeError(f"scheme {s.name!r} is inconsistent: {details}")


def validate_table(table=SCHEMES, presets=None) -> None:
    """Validates every row, unique names, and that presets name only known schemes."""
    seen = set()
    by_lookup = {}
    for s in table:
        validate_scheme(s)
        if s.name in seen:
            raise SchemeError(f"scheme {s.name!r} appears twice in the table")
        seen.add(s.name)
        other = by_lookup.setdefault(format_lookup_key(s), s.name)
        if other != s.name:
            raise SchemeError(
                f"schemes {other!r} and {s.name!r} share format {s.format!r}, "
                f"{s.b_type.size_bits}-bit weights and activations {_names(s.a_types)}: the "
                f"format -> scheme map of the Python package would be ambiguous"
            )
    for preset, names in (PRESETS if presets is None else presets).items():
        unknown = [n for n in names if n not in seen]
        if unknown:
            raise SchemeError(f"preset {preset!r} names unknown schemes: {', '.join(unknown)}")


def select(preset: str, names=None, table=SCHEMES, presets=None) -> tuple:
    """Returns the rows of `preset` (restricted to `names` when given), in table order.

    Raises SchemeError for an unknown preset, an unknown or out-of-preset scheme name, or an
    empty selection; each message lists the valid values.
    """
    presets = PRESETS if presets is None else presets
    if preset not in presets:
        raise SchemeError(f"unknown preset {preset!r}; valid: {', '.join(sorted(presets))}")
    in_preset = presets[preset]
    if names is not None:
        names = list(names)
        if not names:
            raise SchemeError(f"empty scheme list; valid: {', '.join(in_preset)}")
        unknown = [n for n in names if n not in in_preset]
        if unknown:
            raise SchemeError(
                f"unknown scheme {', '.join(map(repr, unknown))} for preset {preset!r}; "
                f"valid: {', '.join(in_preset)}"
            )
    wanted = set(in_preset if names is None else names)
    by_name = {s.name: s for s in table}
    return tuple(by_name[n] for n in in_preset if n in wanted)
