"""The packed selector key (design.md section 8): its layout and the packing.

The layout is a contract with `marlin::pack_kernel_key` in kernel_config.h; the generated
kernel_selector.h static_asserts that its table is strictly sorted by the C++ packing, so the
two cannot silently disagree. schemes.py checks table values against FIELD_BITS.
"""

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

# Field -> width in bits, derived from KEY_LAYOUT.
FIELD_BITS = {field: width for field, _, width in KEY_LAYOUT}


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
