"""The selector table: packed kernel keys and the pre-spelled rows of kernel_selector.h.

The key packing is a contract with `marlin::pack_kernel_key` in kernel_config.h (design.md
section 8); the generated header static_asserts that its table is strictly sorted by the C++
packing, so the two cannot silently disagree.
"""

import dataclasses

from tools.marlin_gen import manifest as manifest_lib
from tools.marlin_gen import scalar_types as st

# (field, shift, width) of the packed key, most significant first.
KEY_LAYOUT = (
    ("a_type", 41, 4),
    ("b_type", 37, 4),
    ("c_type", 33, 4),
    ("s_type", 29, 4),
    ("threads / 32", 24, 5),
    ("thread_m_blocks", 21, 3),
    ("thread_n_blocks", 16, 5),
    ("thread_k_blocks", 11, 5),
    ("m_block_size_8", 10, 1),
    ("stages", 7, 3),
    ("group_blocks + 1", 1, 6),
    ("is_zp_float", 0, 1),
)


def _key_fields(inst) -> tuple:
    if inst.threads % 32:
        raise ValueError(f"threads = {inst.threads} is not a multiple of 32")
    return (
        st.selector_index(inst.a_type),
        st.selector_index(inst.b_type),
        st.selector_index(inst.c_type),
        st.selector_index(inst.s_type),
        inst.threads // 32,
        inst.thread_m_blocks,
        inst.thread_n_blocks,
        inst.thread_k_blocks,
        int(inst.m_block_size_8),
        inst.stages,
        inst.group_blocks + 1,
        int(inst.is_zp_float),
    )


def pack_key(inst) -> int:
    """The 45-bit selector key; ValueError names a field whose value does not fit."""
    key = 0
    for (field, shift, width), value in zip(KEY_LAYOUT, _key_fields(inst), strict=True):
        if not 0 <= value < (1 << width):
            raise ValueError(f"{field} = {value} does not fit the {width}-bit key field")
        key |= value << shift
    return key


def _cpp_bool(value: bool) -> str:
    return "true" if value else "false"


def template_args(inst) -> str:
    """The 12 template arguments as C++ (`marlin::kFloat16.id(), ..., 4, -1, false`)."""
    values = [st.cpp_id(t) for t in (inst.a_type, inst.b_type, inst.c_type, inst.s_type)]
    values += [
        str(inst.threads),
        str(inst.thread_m_blocks),
        str(inst.thread_n_blocks),
        str(inst.thread_k_blocks),
        _cpp_bool(inst.m_block_size_8),
        str(inst.stages),
        str(inst.group_blocks),
        _cpp_bool(inst.is_zp_float),
    ]
    return ", ".join(values)


@dataclasses.dataclass(frozen=True)
class SelectorRow:
    """One table row, pre-spelled for the template."""

    key: int
    file: str
    args: str


def rows_from_manifest(manifest: dict) -> list:
    """Sorted selector rows; ValueError on a duplicate key (two files with one config)."""
    rows = sorted(
        (
            SelectorRow(pack_key(inst), file, template_args(inst))
            for file, _, inst in manifest_lib.instantiations(manifest)
        ),
        key=lambda r: r.key,
    )
    for prev, row in zip(rows, rows[1:], strict=False):
        if prev.key == row.key:
            raise ValueError(f"duplicate kernel config in {prev.file} and {row.file}: {row.args}")
    return rows
