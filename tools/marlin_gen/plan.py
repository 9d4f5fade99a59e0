"""Pure planning: (preset, schemes, flags) -> which kernel files hold which instantiations.

Order rules (upstream parity, see docs/marlin_reference.md "Precise ordering and parsing"):
- A kernel file holds the instantiations of one (a, b, c) type triple, in the order the scheme
  rows produce them: rows top to bottom, then group_blocks as listed, m-blocks ascending, thread
  configs in table order (`index_in_file`).
- Files are ordered by the first time their triple is produced (rows top to bottom, a_types
  outer, c_types inner); stage-4 files (sm80/sm89) first, then the stage-2 sm75 copies. Walking
  the files in that order and each file in `index_in_file` order gives `selector_index`.
"""

import dataclasses

from tools.marlin_gen import archs as archs_lib
from tools.marlin_gen import scalar_types as st
from tools.marlin_gen import schemes as schemes_lib

FAMILIES = ("sm75", "sm80", "sm89")

# sm75 copies exist only for these activations with kFloat16 output.
SM75_A_TYPES = (st.kFloat16, st.kS8)
SM75_C_TYPE = st.kFloat16


@dataclasses.dataclass(frozen=True)
class Instantiation:
    """One explicit instantiation of the Marlin kernel template (its 12 parameters)."""

    scheme: str
    a_type: st.ScalarType
    b_type: st.ScalarType
    c_type: st.ScalarType
    s_type: st.ScalarType
    threads: int
    thread_m_blocks: int
    thread_n_blocks: int
    thread_k_blocks: int
    m_block_size_8: bool
    stages: int
    group_blocks: int
    is_zp_float: bool

    @property
    def params(self) -> tuple:
        """The 12 template arguments in template order (types as ScalarType)."""
        return (
            self.a_type,
            self.b_type,
            self.c_type,
            self.s_type,
            self.threads,
            self.thread_m_blocks,
            self.thread_n_blocks,
            self.thread_k_blocks,
            self.m_block_size_8,
            self.stages,
            self.group_blocks,
            self.is_zp_float,
        )


@dataclasses.dataclass(frozen=True)
class KernelFile:
    """One generated `.cu` file: its name, family, contributing schemes and instantiations."""

    name: str
    family: str
    schemes: tuple
    instantiations: tuple


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything the renderers need; `files` is in generation (selector) order."""

    preset: str
    schemes: tuple
    archs: tuple
    flags: archs_lib.Flags
    files: tuple

    @property
    def instantiations(self) -> tuple:
        """(file, index_in_file, instantiation) in selector order."""
        return tuple((f, i, inst) for f in self.files for i, inst in enumerate(f.instantiations))

    def file(self, name: str) -> KernelFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)


def kernel_file_name(family: str, a_type, b_type, c_type) -> str:
    """The one naming function: `<family>_kernel_<a>_<b>_<c>.cu` (s_type is not part of it)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; valid: {', '.join(FAMILIES)}")
    parts = "_".join(st.file_name(t) for t in (a_type, b_type, c_type))
    return f"{family}_kernel_{parts}.cu"


def family_of(a_type, stages: int) -> str:
    """sm89 for FP8 activations, else sm75 for the stage-2 copies, else sm80."""
    if a_type == st.kFE4M3fn:
        return "sm89"
    return "sm75" if stages == schemes_lib.STAGES_SM75 else "sm80"


def keeps_thread_config(m_blocks, thread_config) -> bool:
    """256-thread configs are tied to m: (128,128,256) for m <= 1, (64,256,256) for m > 1."""
    thread_k, thread_n, threads = thread_config
    if threads != 256:
        return True
    if m_blocks <= 1:
        return (thread_k, thread_n) == (128, 128)
    return (thread_k, thread_n) == (64, 256)


def type_triples(scheme, flags) -> list:
    """The (a, c) pairs a row produces: FP8 activations need the fp8 flag; 16-bit a must equal c."""
    pairs = []
    for a in scheme.a_types:
        if a == st.kFE4M3fn and not flags.fp8:
            continue
        for c in scheme.c_types:
            if a.is_16bit and c.is_16bit and a != c:
                continue
            pairs.append((a, c))
    return pairs


def row_instantiations(scheme, a_type, c_type, stages: int) -> list:
    """Instantiations of one (row, a, c): group_blocks outer, m-blocks, then thread configs."""
    out = []
    for group_blocks in scheme.group_blocks:
        for m in scheme.m_blocks:
            for cfg in scheme.thread_configs:
                if not keeps_thread_config(m, cfg):
                    continue
                thread_k, thread_n, threads = cfg
                out.append(
                    Instantiation(
                        scheme=scheme.name,
                        a_type=a_type,
                        b_type=scheme.b_type,
                        c_type=c_type,
                        s_type=scheme.s_type or c_type,
                        threads=threads,
                        thread_m_blocks=max(int(m), 1),
                        thread_n_blocks=thread_n // 16,
                        thread_k_blocks=thread_k // 16,
                        m_block_size_8=m == 0.5,
                        stages=stages,
                        group_blocks=group_blocks,
                        is_zp_float=scheme.is_zp_float,
                    )
                )
    return out


def _collect(rows, flags, stages: int, wants) -> list:
    """Groups the rows' instantiations into files by (a, b, c), in first-seen order."""
    groups = {}
    for scheme in rows:
        for a, c in type_triples(scheme, flags):
            if not wants(a, c):
                continue
            key = (a, scheme.b_type, c)
            entry = groups.setdefault(key, ([], []))
            if scheme.name not in entry[0]:
                entry[0].append(scheme.name)
            entry[1].extend(row_instantiations(scheme, a, c, stages))
    files = []
    for (a, b, c), (names, insts) in groups.items():
        family = family_of(a, stages)
        files.append(
            KernelFile(
                name=kernel_file_name(family, a, b, c),
                family=family,
                schemes=tuple(names),
                instantiations=tuple(insts),
            )
        )
    return files


def make_plan(preset: str, rows, flags, archs=()) -> Plan:
    """Plans the kernel files for `rows` (Scheme objects, in table order) under `flags`."""
    files = []
    if flags.sm80:
        files += _collect(rows, flags, schemes_lib.STAGES_SM80, lambda a, c: True)
    if flags.sm75:
        files += _collect(
            rows,
            flags,
            schemes_lib.STAGES_SM75,
            lambda a, c: a in SM75_A_TYPES and c == SM75_C_TYPE,
        )
    return Plan(
        preset=preset,
        schemes=tuple(s.name for s in rows),
        archs=tuple(archs),
        flags=flags,
        files=tuple(files),
    )


def families_built(flags, rows=schemes_lib.SCHEMES) -> tuple:
    """The kernel families the plan of `rows` under `flags` has files of, in FAMILIES order.

    This is what the manifest and the selector count as built;
    marlin/private/generated/arch_table.bzl carries it per --cuda_archs value so that Starlark's
    family_gencode can be checked against it.
    """
    planned = {f.family for f in make_plan("all", rows, flags).files}
    return tuple(f for f in FAMILIES if f in planned)


def plan_for_archs(arch_list: str, preset: str = "vllm", scheme_names=None) -> Plan:
    """Convenience: parse an arch list, select schemes, plan."""
    archs = archs_lib.parse_arch_list(arch_list)
    rows = schemes_lib.select(preset, scheme_names)
    return make_plan(preset, rows, archs_lib.compute_flags(archs), archs)
