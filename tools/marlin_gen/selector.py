"""The selector table: the pre-spelled, key-sorted rows of kernel_selector.h.

Rows are sorted by the packed key of selector_key.py (the contract with kernel_config.h).
"""

import dataclasses

from tools.marlin_gen import manifest as manifest_lib
from tools.marlin_gen import scalar_types as st
from tools.marlin_gen import selector_key


def cpp_bool(value: bool) -> str:
    """C++ spelling of a bool."""
    return "true" if value else "false"


def template_args(inst) -> str:
    """The 12 template arguments as C++ (`marlin::kFloat16.id(), ..., 4, -1, false`)."""
    values = [st.cpp_id(t) for t in (inst.a_type, inst.b_type, inst.c_type, inst.s_type)]
    values += [
        str(inst.threads),
        str(inst.thread_m_blocks),
        str(inst.thread_n_blocks),
        str(inst.thread_k_blocks),
        cpp_bool(inst.m_block_size_8),
        str(inst.stages),
        str(inst.group_blocks),
        cpp_bool(inst.is_zp_float),
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
            SelectorRow(selector_key.pack_key(inst), file, template_args(inst))
            for file, _, inst in manifest_lib.instantiations(manifest)
        ),
        key=lambda r: r.key,
    )
    for prev, row in zip(rows, rows[1:], strict=False):
        if prev.key == row.key:
            raise ValueError(f"duplicate kernel config in {prev.file} and {row.file}: {row.args}")
    return rows
