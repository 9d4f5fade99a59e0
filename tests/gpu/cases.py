"""The GPU test matrix (pure Python, deterministic): one Case per marlin.gemm correctness check.

Full products (every M x every (K, N)) run for gptq_int4 (the flagship), hqq_int4, nvfp4 and
mxfp4; the other schemes run every M once per (group config, dtype), with (K, N) rotating, so
every M and every shape still meets every scheme. Bias, row-strided A (column slice, lda > K),
offset A (row slice) and library-allocated output are spread over the cases by index.
"""

from __future__ import annotations

import dataclasses
import os

M_LIST = (1, 7, 16, 26, 64, 257, 1024)
KN_LIST = ((1408, 2368), (1664, 9472), (2048, 4096))

# scheme -> (format, bits, activation, c dtypes, group sizes, act-order group sizes, full product)
SPECS = {
    "gptq_int4": ("gptq", 4, None, ("float16", "bfloat16"), (-1, 32, 64, 128), (32, 128), True),
    "gptq_int8": ("gptq", 8, None, ("float16", "bfloat16"), (-1, 32, 64, 128), (64, 128), False),
    "awq_int4": ("awq", 4, None, ("float16", "bfloat16"), (-1, 32, 64, 128), (), False),
    "hqq_int4": ("hqq", 4, None, ("float16",), (64,), (), True),
    "fp8": ("fp8", 8, None, ("float16", "bfloat16"), (-1, 128), (), False),
    "nvfp4": ("nvfp4", 4, None, ("float16", "bfloat16"), (16,), (), True),
    "mxfp4": ("mxfp4", 4, None, ("bfloat16",), (32,), (), True),
    "gptq_int4_a_int8": ("gptq", 4, "int8", ("float16", "bfloat16"), (-1, 32, 64, 128), (), False),
    "awq_int4_a_int8": ("awq", 4, "int8", ("float16", "bfloat16"), (-1, 32, 64, 128), (), False),
    "gptq_int4_a_fp8": ("gptq", 4, "fp8", ("float16", "bfloat16"), (-1, 32, 64, 128), (), False),
    "awq_int4_a_fp8": ("awq", 4, "fp8", ("float16", "bfloat16"), (-1, 32, 64, 128), (), False),
    "mxfp4_a_fp8": ("mxfp4", 4, "fp8", ("bfloat16",), (32,), (), False),
}

A_TYPE_NAMES = {None: None, "int8": "kS8", "fp8": "kFE4M3fn"}
C_TYPE_NAMES = {"float16": "kFloat16", "bfloat16": "kBFloat16"}


@dataclasses.dataclass(frozen=True)
class Case:
    scheme: str
    fmt: str
    bits: int
    activation: str | None
    dtype: str  # output (c) dtype; also a's dtype for 16-bit activations
    group_size: int  # -1 channelwise, else rows per group
    act_order: bool
    is_k_full: bool
    m: int
    k: int
    n: int
    bias: bool = False
    a_layout: str = "contiguous"  # "contiguous", "col_slice" (lda > K), "row_slice" (offset)
    alloc_out: bool = False  # let marlin allocate the output (else a NaN-poisoned out)

    @property
    def weight_key(self) -> tuple:
        """Cases with the same key share one quantized weight."""
        return (self.scheme, self.dtype, self.group_size, self.act_order, self.k, self.n)

    @property
    def a_type(self) -> str:
        return A_TYPE_NAMES[self.activation] or C_TYPE_NAMES[self.dtype]

    @property
    def c_type(self) -> str:
        return C_TYPE_NAMES[self.dtype]

    @property
    def group_blocks(self) -> int:
        """The kernel's group_blocks for this call (design.md section 9 / reference 4)."""
        if self.act_order and not self.is_k_full:
            return 0
        return -1 if self.group_size == -1 else self.group_size // 16

    @property
    def id(self) -> str:
        g = "ch" if self.group_size == -1 else f"g{self.group_size}"
        if self.act_order:
            g += "-act" + ("" if self.is_k_full else "-kpart")
        extra = ""
        if self.bias:
            extra += "-bias"
        if self.a_layout != "contiguous":
            extra += "-" + self.a_layout
        if self.alloc_out:
            extra += "-alloc"
        dt = "f16" if self.dtype == "float16" else "bf16"
        return f"{self.scheme}-{dt}-{g}-m{self.m}-k{self.k}-n{self.n}{extra}"


def _configs(spec):
    fmt, bits, act, dtypes, groups, act_groups, _ = spec
    for dtype in dtypes:
        for g in groups:
            yield dtype, g, False, True
        for g in act_groups:
            for is_k_full in (True, False):
                yield dtype, g, True, is_k_full


def build_cases(schemes=None) -> list[Case]:
    names = schemes or list(SPECS)
    cases: list[Case] = []
    for scheme in names:
        spec = SPECS[scheme]
        fmt, bits, act, _, _, _, full = spec
        for ci, (dtype, g, act_order, is_k_full) in enumerate(_configs(spec)):
            if full:
                pairs = [(m, kn) for kn in KN_LIST for m in M_LIST]
            else:
                pairs = [(m, KN_LIST[(i + ci) % len(KN_LIST)]) for i, m in enumerate(M_LIST)]
            pairs.sort(key=lambda p: (p[1], p[0]))  # weight-sharing cases next to each other
            for m, (k, n) in pairs:
                idx = len(cases)
                cases.append(
                    Case(
                        scheme=scheme,
                        fmt=fmt,
                        bits=bits,
                        activation=act,
                        dtype=dtype,
                        group_size=g,
                        act_order=act_order,
                        is_k_full=is_k_full,
                        m=m,
                        k=k,
                        n=n,
                        bias=idx % 3 == 1,
                        a_layout=("contiguous", "col_slice", "contiguous", "row_slice")[idx % 4],
                        alloc_out=idx % 7 == 3,
                    )
                )
    return cases


def selected_schemes() -> list[str] | None:
    """$MARLIN_TEST_SCHEMES=a,b limits the matrix (default: every scheme)."""
    env = os.environ.get("MARLIN_TEST_SCHEMES", "").strip()
    if not env:
        return None
    names = [s.strip() for s in env.split(",") if s.strip()]
    bad = [s for s in names if s not in SPECS]
    if bad:
        raise ValueError(f"MARLIN_TEST_SCHEMES: unknown {bad}; valid: {', '.join(SPECS)}")
    return names
