"""rules_marlin's Python API: Marlin mixed-precision GEMM over libmarlin.so's C ABI (ctypes).

    import marlin
    w = marlin.prepare_weights("gptq", qweight=qw, scales=s, g_idx=g_idx)   # torch CUDA tensors
    c = marlin.gemm(a, w)                                                   # a: [M, K] f16/bf16

The library is found through $MARLIN_LIBRARY or next to this package (libmarlin.so) and loaded
on first use. Importing marlin imports neither torch nor the library; `marlin.quant` (reference
quantizers, needs torch) is imported on first access.
"""

from __future__ import annotations

import collections

from marlin import scalar_types
from marlin._gemm import gemm
from marlin._gemm import make_workspace
from marlin._gemm import workspace_bytes
from marlin._lib import MARLIN_ERR_CUDA
from marlin._lib import MARLIN_ERR_INVALID_ARGUMENT
from marlin._lib import MARLIN_ERR_NO_KERNEL
from marlin._lib import MARLIN_ERR_UNSUPPORTED_DEVICE
from marlin._lib import MARLIN_OK
from marlin._lib import MarlinArgumentError
from marlin._lib import MarlinError
from marlin._lib import MarlinLibraryError
from marlin._lib import MarlinTypeError
from marlin._lib import is_available
from marlin._lib import library_candidates
from marlin._prepare import FORMATS
from marlin._prepare import PreparedWeights
from marlin._prepare import prepare_weights

__all__ = [
    "FORMATS",
    "MARLIN_ERR_CUDA",
    "MARLIN_ERR_INVALID_ARGUMENT",
    "MARLIN_ERR_NO_KERNEL",
    "MARLIN_ERR_UNSUPPORTED_DEVICE",
    "MARLIN_OK",
    "KernelConfig",
    "MarlinArgumentError",
    "MarlinError",
    "MarlinLibraryError",
    "MarlinTypeError",
    "PreparedWeights",
    "abi_version",
    "built_schemes",
    "gemm",
    "is_available",
    "kernels",
    "library_candidates",
    "make_workspace",
    "prepare_weights",
    "quant",
    "scalar_types",
    "workspace_bytes",
]

KernelConfig = collections.namedtuple(
    "KernelConfig",
    "a_type b_type c_type s_type threads thread_m_blocks thread_n_blocks thread_k_blocks "
    "m_block_size_8 stages group_blocks is_zp_float",
)


def abi_version() -> int:
    from marlin import _lib

    return int(_lib.load().marlin_abi_version())


def kernels() -> list[KernelConfig]:
    """The compiled kernel instantiations of the loaded library (types as ScalarType)."""
    from marlin import _lib

    out = []
    for i in range(_lib.num_kernels()):
        v = _lib.kernel_info(i)
        types = []
        for t in v[:4]:
            try:
                types.append(scalar_types.from_id(t))
            except ValueError:
                types.append(t)
        out.append(KernelConfig(*types, *v[4:8], bool(v[8]), v[9], v[10], bool(v[11])))
    return out


def built_schemes() -> dict[str, set[tuple[str, str, int]]]:
    """scheme name -> {(a type, c type, group_blocks)} served by the loaded library."""
    found: dict[str, set[tuple[str, str, int]]] = {}
    for k in kernels():
        if not all(isinstance(t, scalar_types.ScalarType) for t in k[:4]):
            continue
        name = scalar_types.scheme_of(
            k.a_type, k.b_type, k.c_type, k.s_type, k.group_blocks, k.is_zp_float
        )
        if name is not None:
            found.setdefault(name, set()).add((k.a_type.name, k.c_type.name, k.group_blocks))
    return found


def __getattr__(name):
    if name == "quant":
        import importlib

        return importlib.import_module("marlin.quant")
    raise AttributeError(f"module 'marlin' has no attribute {name!r}")
