"""ctypes binding of libmarlin.so's C ABI (design.md section 10, marlin/include/marlin/c_api.h).

The library is loaded lazily, on the first call that needs it, from `$MARLIN_LIBRARY` when that
is set, else from `libmarlin.so` next to this package. Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import threading

ABI_VERSION = 1
LIBRARY_ENV = "MARLIN_LIBRARY"
LIBRARY_NAME = "libmarlin.so"

# marlin_status codes.
MARLIN_OK = 0
MARLIN_ERR_INVALID_ARGUMENT = 1
MARLIN_ERR_NO_KERNEL = 2
MARLIN_ERR_CUDA = 3
MARLIN_ERR_UNSUPPORTED_DEVICE = 4

STATUS_NAMES = {
    MARLIN_OK: "MARLIN_OK",
    MARLIN_ERR_INVALID_ARGUMENT: "MARLIN_ERR_INVALID_ARGUMENT",
    MARLIN_ERR_NO_KERNEL: "MARLIN_ERR_NO_KERNEL",
    MARLIN_ERR_CUDA: "MARLIN_ERR_CUDA",
    MARLIN_ERR_UNSUPPORTED_DEVICE: "MARLIN_ERR_UNSUPPORTED_DEVICE",
}


class MarlinError(RuntimeError):
    """A libmarlin call failed; `code` is the marlin_status, the text is marlin_last_error()."""

    def __init__(self, code: int, message: str, function: str = ""):
        self.code = int(code)
        self.status = STATUS_NAMES.get(self.code, f"status {self.code}")
        self.message = message
        self.function = function
        # The library's messages may already start with the function's name: say it once.
        where = f"{function}: " if function and not message.startswith(f"{function}:") else ""
        super().__init__(f"{where}{message} [{self.status}]")


class MarlinArgumentError(MarlinError, ValueError):
    """The library refused the call's arguments (MARLIN_ERR_INVALID_ARGUMENT); nothing ran.

    A ValueError, like the argument errors marlin raises before calling the library."""


class MarlinTypeError(MarlinArgumentError, TypeError):
    """MARLIN_ERR_INVALID_ARGUMENT for a type rule (a_type, b_type, c_type or s_type): also a
    TypeError, as marlin's own dtype errors are."""


# The library's argument messages start with the field they are about ("c_type kBFloat16 must
# equal a_type kFloat16 ..."), after an optional "function: " prefix.
_TYPE_RULE = re.compile(r"(?:\w+: )?[abcs]_type ")


def error_for(code: int, message: str, function: str = "") -> MarlinError:
    """The exception for a failed library call: MarlinTypeError / MarlinArgumentError for
    argument errors, else MarlinError."""
    if code == MARLIN_ERR_INVALID_ARGUMENT:
        cls = MarlinTypeError if _TYPE_RULE.match(message) else MarlinArgumentError
        return cls(code, message, function)
    return MarlinError(code, message, function)


class MarlinLibraryError(MarlinError):
    """libmarlin.so could not be found, loaded, or has the wrong ABI version."""

    def __init__(self, message: str):
        MarlinError.__init__(self, -1, message)
        self.status = "library"

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------------------------------------
# Structures: field order and types mirror c_api.h exactly (tests/python/test_c_abi.py checks).


class GemmArgs(ctypes.Structure):
    """struct marlin_gemm_args."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("a", ctypes.c_void_p),
        ("lda", ctypes.c_int64),
        ("a_type", ctypes.c_int64),
        ("c", ctypes.c_void_p),
        ("c_type", ctypes.c_int64),
        ("b_q_weight", ctypes.c_void_p),
        ("b_type", ctypes.c_int64),
        ("b_scales", ctypes.c_void_p),
        ("s_type", ctypes.c_int64),
        ("num_groups", ctypes.c_int64),
        ("b_zeros", ctypes.c_void_p),
        ("b_bias", ctypes.c_void_p),
        ("a_scales", ctypes.c_void_p),  # const float*
        ("global_scale", ctypes.c_void_p),  # const float*
        ("g_idx", ctypes.c_void_p),  # const int32_t*
        ("perm", ctypes.c_void_p),  # const int32_t*
        ("workspace", ctypes.c_void_p),
        ("workspace_bytes", ctypes.c_int64),
        ("size_m", ctypes.c_int64),
        ("size_n", ctypes.c_int64),
        ("size_k", ctypes.c_int64),
        ("is_k_full", ctypes.c_int32),
        ("use_atomic_add", ctypes.c_int32),
        ("use_fp32_reduce", ctypes.c_int32),
        ("is_zp_float", ctypes.c_int32),
        ("stream", ctypes.c_void_p),
    ]


class ExecOverride(ctypes.Structure):
    """struct marlin_exec_override (tuning tools: one hand-picked exec config)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("threads", ctypes.c_int32),
        ("thread_k", ctypes.c_int32),
        ("thread_n", ctypes.c_int32),
        ("thread_m_blocks", ctypes.c_int32),
        ("m_block_size_8", ctypes.c_int32),
        ("splits", ctypes.c_int32),
    ]


class CodeSource(ctypes.Structure):
    """struct marlin_code_source."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("data", ctypes.c_void_p),
        ("word_bits", ctypes.c_int32),
        ("code_bits", ctypes.c_int32),
        ("packed_along_k", ctypes.c_int32),
        ("n_major", ctypes.c_int32),
        ("awq_order", ctypes.c_int32),
    ]


# C type of each pointer field, for the header comparison test (ctypes has one c_void_p).
POINTER_FIELD_TYPES = {
    "a_scales": "float",
    "global_scale": "float",
    "g_idx": "int32_t",
    "perm": "int32_t",
}

# name -> (restype, argtypes)
_SIGNATURES = {
    "marlin_last_error": (ctypes.c_char_p, []),
    "marlin_abi_version": (ctypes.c_int, []),
    "marlin_num_kernels": (ctypes.c_int, []),
    "marlin_kernel_info": (ctypes.c_int, [ctypes.c_int, ctypes.POINTER(ctypes.c_int64)]),
    "marlin_gemm": (ctypes.c_int, [ctypes.POINTER(GemmArgs)]),
    "marlin_gemm_with_config": (
        ctypes.c_int,
        [ctypes.POINTER(GemmArgs), ctypes.POINTER(ExecOverride)],
    ),
    "marlin_gemm_workspace_bytes": (
        ctypes.c_int64,
        [ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int32],
    ),
    "marlin_pack_weights": (
        ctypes.c_int,
        [
            ctypes.POINTER(CodeSource),
            ctypes.c_void_p,
            ctypes.c_int64,
            ctypes.c_int64,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ],
    ),
    "marlin_pack_zero_points": (
        ctypes.c_int,
        [
            ctypes.POINTER(CodeSource),
            ctypes.c_int64,
            ctypes.c_int64,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ],
    ),
}

_lock = threading.Lock()
_lib = None


def library_candidates() -> list[str]:
    """Where the library is looked for, in order."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return [env]
    return [os.path.join(os.path.dirname(os.path.abspath(__file__)), LIBRARY_NAME)]


def _not_found_message() -> str:
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), LIBRARY_NAME)
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return (
            f"{LIBRARY_NAME} not found: ${LIBRARY_ENV} is set to {env!r}, which does not exist. "
            f"Point ${LIBRARY_ENV} at the built library, or unset it to use {here}."
        )
    return (
        f"{LIBRARY_NAME} not found: looked in ${LIBRARY_ENV} (not set) and next to the package "
        f"({here}). Build it (bazel build //marlin/csrc:libmarlin.so) and set "
        f"{LIBRARY_ENV}=/path/to/{LIBRARY_NAME}, or copy it to {here}."
    )


def _bind(lib):
    missing = [name for name in _SIGNATURES if not hasattr(lib, name)]
    if missing:
        raise MarlinLibraryError(
            f"{lib._name} does not export {', '.join(missing)}: not a rules_marlin library "
            f"of ABI version {ABI_VERSION}"
        )
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    version = lib.marlin_abi_version()
    if version != ABI_VERSION:
        raise MarlinLibraryError(
            f"{lib._name} has C ABI version {version}; this Python package needs {ABI_VERSION}"
        )
    return lib


def load():
    """The bound library (loaded once). Raises MarlinLibraryError naming where it looked."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        path = library_candidates()[0]
        if not os.path.exists(path):
            raise MarlinLibraryError(_not_found_message())
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise MarlinLibraryError(f"cannot load {path}: {e}") from e
        _lib = _bind(lib)
        return _lib


def is_available() -> bool:
    """True when libmarlin.so can be loaded (does not raise)."""
    try:
        load()
    except MarlinError:
        return False
    return True


def last_error(lib=None) -> str:
    lib = lib or load()
    msg = lib.marlin_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def check(status: int, function: str, lib=None) -> None:
    """Raises MarlinError with marlin_last_error() when status is not MARLIN_OK."""
    if status != MARLIN_OK:
        raise error_for(status, last_error(lib) or "(no message)", function)


def num_kernels() -> int:
    return int(load().marlin_num_kernels())


def kernel_info(i: int) -> tuple[int, ...]:
    lib = load()
    out = (ctypes.c_int64 * 12)()
    check(lib.marlin_kernel_info(int(i), out), "marlin_kernel_info", lib)
    return tuple(int(v) for v in out)


INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_int64(value, name: str) -> int:
    """`value` as an int for an int64_t parameter: ctypes would silently wrap a larger one."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int; got {type(value).__qualname__}")
    value = value.__index__()
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{name}={value} does not fit in int64")
    return value


def gemm_workspace_bytes(size_m: int, size_n: int, size_k: int, a_type: int, act_order: bool):
    size_m = check_int64(size_m, "size_m")
    size_n = check_int64(size_n, "size_n")
    size_k = check_int64(size_k, "size_k")
    a_type = check_int64(a_type, "a_type")
    lib = load()
    n = lib.marlin_gemm_workspace_bytes(size_m, size_n, size_k, a_type, int(bool(act_order)))
    if n < 0:
        raise error_for(
            MARLIN_ERR_INVALID_ARGUMENT,
            last_error(lib) or f"no workspace size for M={size_m} N={size_n} K={size_k}",
            "marlin_gemm_workspace_bytes",
        )
    return int(n)


GEMM_ARGS_SIZE = ctypes.sizeof(GemmArgs)


def gemm(args: GemmArgs) -> None:
    lib = _lib or load()
    args.struct_size = GEMM_ARGS_SIZE
    status = lib.marlin_gemm(ctypes.byref(args))
    if status != MARLIN_OK:
        check(status, "marlin_gemm", lib)


@contextlib.contextmanager
def forced_exec_config(threads, thread_k, thread_n, thread_m_blocks, m_block_size_8, splits):
    """Within the block, every marlin.gemm call runs this exec config (marlin_gemm_with_config)
    instead of the dispatcher's choice: for tuning tools and tests, not thread-safe."""
    global gemm
    config = ExecOverride(
        threads=threads,
        thread_k=thread_k,
        thread_n=thread_n,
        thread_m_blocks=thread_m_blocks,
        m_block_size_8=int(bool(m_block_size_8)),
        splits=splits,
    )
    plain = gemm
    gemm = lambda args: gemm_with_config(args, config)  # noqa: E731
    try:
        yield
    finally:
        gemm = plain


def gemm_with_config(args: GemmArgs, config: ExecOverride) -> None:
    lib = load()
    args.struct_size = ctypes.sizeof(GemmArgs)
    config.struct_size = ctypes.sizeof(ExecOverride)
    status = lib.marlin_gemm_with_config(ctypes.byref(args), ctypes.byref(config))
    check(status, "marlin_gemm_with_config", lib)


def pack_weights(src: CodeSource, perm: int, size_k: int, size_n: int, out: int, stream: int):
    size_k = check_int64(size_k, "size_k")
    size_n = check_int64(size_n, "size_n")
    lib = load()
    src.struct_size = ctypes.sizeof(CodeSource)
    status = lib.marlin_pack_weights(ctypes.byref(src), perm or None, size_k, size_n, out, stream)
    check(status, "marlin_pack_weights", lib)


def pack_zero_points(src: CodeSource, num_groups: int, size_n: int, out: int, stream: int):
    num_groups = check_int64(num_groups, "num_groups")
    size_n = check_int64(size_n, "size_n")
    lib = load()
    src.struct_size = ctypes.sizeof(CodeSource)
    status = lib.marlin_pack_zero_points(ctypes.byref(src), num_groups, size_n, out, stream)
    check(status, "marlin_pack_zero_points", lib)
