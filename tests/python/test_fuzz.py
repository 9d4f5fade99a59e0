"""Bounded property tests (hypothesis) of the C ABI and the Python argument checks, on the CPU.

Properties: no input kills the process (a signal fails the whole test target), and every call
either succeeds with a correct result or fails with MARLIN_ERR_INVALID_ARGUMENT / MarlinError /
TypeError / ValueError whose message names an argument.

The C ABI is exercised through ctypes on the real libmarlin.so (a data dependency under Bazel;
the `lib` and `real_lib` fixtures of conftest.py)
on paths that never reach CUDA: marlin_gemm_workspace_bytes, marlin_kernel_info, and
marlin_gemm / marlin_pack_* with a NULL workspace / output, so their whole argument validation
runs and must refuse the call. marlin.gemm's Python checks run on fake device arrays; what they
let through is handed to the real marlin_gemm validation (workspace NULL: "workspace is NULL"
then means every other argument was accepted). Runs are deterministic (derandomize) and bounded
(max_examples) so CI stays fast; MARLIN_FUZZ_EXAMPLES / MARLIN_FUZZ_RANDOM=1 search longer.
"""

import contextlib
import ctypes
import os

import pytest
from fakes import FakeCudaArray
from fakes import FakeDLPack
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as hs

import marlin
from marlin import _lib
from marlin import scalar_types as st

INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INVALID = _lib.MARLIN_ERR_INVALID_ARGUMENT

# CI: 150 examples per property, the same ones every run. A longer hunt by hand:
#   MARLIN_FUZZ_EXAMPLES=5000 MARLIN_FUZZ_RANDOM=1 python3 -m pytest tests/python/test_fuzz.py
FUZZ = settings(
    max_examples=int(os.environ.get("MARLIN_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=os.environ.get("MARLIN_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,  # the fixtures only install the library
    ],
)

ACTIVATION_IDS = {st.kFloat16.id: 2, st.kBFloat16.id: 2, st.kS8.id: 1, st.kFE4M3fn.id: 1}
TYPE_IDS = [t.id for t in st.SELECTOR_TYPES]


def _last_error(lib) -> str:
    return lib.marlin_last_error().decode("utf-8", "replace")


# Sizes: boundaries of int32/int64 and their neighbours, small valid-looking values, anything.
def sizes():
    edges = [0, 1, 15, 16, 64, 128, 4096, INT32_MAX, INT32_MAX + 1, 2**32, 2**40, 2**60, 2**62]
    edges += [INT64_MAX, -1, -(2**31), INT64_MIN]
    return hs.one_of(
        hs.sampled_from(edges),
        hs.integers(0, 9000).map(lambda v: v * 16),
        hs.integers(INT64_MIN, INT64_MAX),
    )


def pointers():
    edges = [0, 0x10, 0x1004, 0x7F0000000000, 0x7F0000000001, 2**64 - 16, 2**64 - 1]
    return hs.one_of(
        hs.sampled_from(edges),
        hs.integers(1, 2**40).map(lambda v: v * 16),
        hs.integers(0, 2**64 - 1),
    )


def type_ids():
    return hs.one_of(hs.sampled_from(TYPE_IDS), hs.integers(INT64_MIN, INT64_MAX))


def int32s():
    return hs.one_of(
        hs.sampled_from([0, 1, -1, 2**31 - 1, -(2**31)]), hs.integers(-(2**31), 2**31 - 1)
    )


# ---------------------------------------------------------------------------------------------
# C ABI


@FUZZ
@given(m=sizes(), n=sizes(), k=sizes(), a_type=type_ids(), act=int32s())
# The reproductions of issue 8 (SIGFPE, or a silent 4096, before the fix) always run.
@example(m=1, n=2**62, k=64, a_type=st.kFloat16.id, act=0)
@example(m=16, n=2**60, k=64, a_type=st.kFloat16.id, act=0)
@example(m=2**40, n=2**40, k=2**40, a_type=st.kFloat16.id, act=1)
@example(m=-1, n=64, k=64, a_type=st.kFloat16.id, act=0)
def test_c_workspace_bytes(lib, m, n, k, a_type, act):
    got = lib.marlin_gemm_workspace_bytes(m, n, k, a_type, act)
    sizes_ok = all(0 <= v <= INT32_MAX for v in (m, n, k))
    if sizes_ok and a_type in ACTIVATION_IDS:
        assert got >= 4096, (m, n, k, a_type, act, got)
        if act:
            assert got >= 4096 + m * k * ACTIVATION_IDS[a_type]
        return
    assert got == -1, (m, n, k, a_type, got)
    msg = _last_error(lib)
    assert msg.startswith("marlin_gemm_workspace_bytes: "), msg
    negative = next((name for name, v in (("size_m", m), ("size_n", n), ("size_k", k)) if v < 0), 0)
    if negative:
        assert f"{negative} must be >= 0" in msg, msg
    elif not sizes_ok:
        assert f"size_m={m} size_n={n} size_k={k}: each must fit in int32" in msg, msg
    else:
        assert "a_type" in msg and "is not an activation type" in msg, msg


GEMM_FIELDS = [name for name, _ in _lib.GemmArgs._fields_]


@FUZZ
@given(data=hs.data())
def test_c_gemm_validation(lib, data):
    args = _lib.GemmArgs()
    args.struct_size = data.draw(
        hs.one_of(hs.just(ctypes.sizeof(_lib.GemmArgs)), hs.integers(0, 2**32 - 1)), "struct_size"
    )
    valid_looking = data.draw(hs.booleans(), "valid_looking")
    for name, ctype in _lib.GemmArgs._fields_:
        if name in ("struct_size", "workspace"):
            continue
        if ctype is ctypes.c_void_p:
            value = data.draw(pointers(), name)
            if valid_looking and name in ("a_scales", "global_scale", "g_idx", "perm", "b_zeros"):
                value = data.draw(hs.sampled_from([0, value]), name)
        elif ctype is ctypes.c_int32:
            value = data.draw(int32s(), name)
        elif name.endswith("_type"):
            value = data.draw(type_ids(), name)
        else:
            value = data.draw(sizes(), name)
        setattr(args, name, value or None if ctype is ctypes.c_void_p else value)
    args.workspace = None  # never reaches CUDA: the last argument check refuses it
    status = lib.marlin_gemm(ctypes.byref(args))
    if status == _lib.MARLIN_OK:  # an empty batch needs no workspace and computes nothing
        assert args.size_m == 0 and args.struct_size == ctypes.sizeof(_lib.GemmArgs), status
        return
    assert status == INVALID, status
    msg = _last_error(lib)
    assert msg and any(field in msg for field in GEMM_FIELDS), msg
    assert lib.marlin_gemm(None) == INVALID and "args is NULL" in _last_error(lib)


SOURCE_FIELDS = ("src->", "struct_size", "size_k", "size_n", "num_groups", "out", "perm")


def _code_source(data):
    return _lib.CodeSource(
        struct_size=data.draw(
            hs.one_of(hs.just(ctypes.sizeof(_lib.CodeSource)), hs.integers(0, 2**32 - 1)),
            "struct_size",
        ),
        data=data.draw(pointers(), "data") or None,
        word_bits=data.draw(hs.one_of(hs.sampled_from([8, 32]), int32s()), "word_bits"),
        code_bits=data.draw(hs.one_of(hs.sampled_from([4, 8]), int32s()), "code_bits"),
        packed_along_k=data.draw(int32s(), "packed_along_k"),
        n_major=data.draw(int32s(), "n_major"),
        awq_order=data.draw(int32s(), "awq_order"),
    )


@FUZZ
@given(data=hs.data())
def test_c_pack_validation(lib, data):
    src = _code_source(data)
    rows, n = data.draw(sizes(), "rows"), data.draw(sizes(), "size_n")
    if data.draw(hs.booleans(), "weights"):
        perm = data.draw(pointers(), "perm") or None
        status = lib.marlin_pack_weights(ctypes.byref(src), perm, rows, n, None, None)
    else:
        status = lib.marlin_pack_zero_points(ctypes.byref(src), rows, n, None, None)
    assert status == INVALID, status  # out is NULL: refused before any CUDA call
    msg = _last_error(lib)
    assert msg and any(f in msg for f in SOURCE_FIELDS), msg


@FUZZ
@given(i=int32s(), null_out=hs.booleans())
def test_c_kernel_info(lib, i, null_out):
    out = (ctypes.c_int64 * 12)()
    status = lib.marlin_kernel_info(i, None if null_out else out)
    if null_out:
        assert status == INVALID and "out12 is NULL" in _last_error(lib)
    elif 0 <= i < lib.marlin_num_kernels():
        assert status == _lib.MARLIN_OK
        assert list(out)[4] in (128, 256)  # threads
    else:
        assert status == INVALID and f"index {i} is outside" in _last_error(lib)


# ---------------------------------------------------------------------------------------------
# Python: marlin.workspace_bytes over the real library

A_DTYPE_VALUES = [
    "float16", "bfloat16", "int8", "float8_e4m3fn", "float32", "", "f16", None, 3, 2.5,
    st.kFloat16, st.kS8, st.kU4, st.kFE2M1f, object(),
]  # fmt: skip


@FUZZ
@given(
    m=hs.one_of(sizes(), hs.integers(), hs.sampled_from([2**64, -(2**64), 1.5, True, None, "8"])),
    n=sizes(),
    k=hs.one_of(sizes(), hs.integers()),
    a_dtype=hs.sampled_from(A_DTYPE_VALUES),
    act=hs.booleans(),
)
@example(m=1, n=2**62, k=64, a_dtype="float16", act=False)
@example(m=2**64, n=64, k=64, a_dtype="float16", act=False)
@example(m=16, n=64, k=64, a_dtype="float32", act=False)
def test_python_workspace_bytes(real_lib, m, n, k, a_dtype, act):
    try:
        got = marlin.workspace_bytes(m, n, k, a_dtype, act)
    except marlin.MarlinError as e:
        assert e.code == INVALID and ("size_" in str(e) or "a_type" in str(e)), e
    except (TypeError, ValueError) as e:
        assert any(name in str(e) for name in ("size_m", "size_n", "size_k", "a_dtype")), e
    else:
        assert isinstance(got, int) and got >= 4096
        assert all(isinstance(v, int) and 0 <= v <= INT32_MAX for v in (m, n, k))


# ---------------------------------------------------------------------------------------------
# Python: marlin.gemm's checks, then the library's own validation

K, N = 256, 128


class ValidatingLib:
    """The real library's marlin_gemm validation without CUDA: the workspace is withheld, so
    "workspace is NULL" means every other argument passed, which counts as a correct call."""

    def __init__(self, lib):
        self.lib = lib
        self.accepted = 0
        self.message = b""

    def marlin_gemm(self, ref):
        args = _lib.GemmArgs.from_buffer_copy(ref._obj)
        assert args.workspace and args.workspace_bytes >= 0  # Python always passes one
        args.workspace = None
        status = self.lib.marlin_gemm(ctypes.byref(args))
        self.message = self.lib.marlin_last_error()
        if status == INVALID and self.message.startswith(b"workspace is NULL"):
            self.accepted += 1
            return _lib.MARLIN_OK
        return status

    def marlin_gemm_workspace_bytes(self, *a):
        return self.lib.marlin_gemm_workspace_bytes(*a)

    def marlin_last_error(self):
        return self.message or self.lib.marlin_last_error()


def _arr(shape, dtype, ptr=None):
    shape = tuple(shape)
    if dtype in ("float16", "float32", "int8", "uint8", "int32"):
        return FakeCudaArray(shape, dtype, ptr=ptr if ptr is not None else 0x7E0000000000)
    return FakeDLPack(shape, dtype, ptr=ptr if ptr is not None else 0x7E0000000000)


DTYPES = ["float16", "bfloat16", "int8", "float8_e4m3fn", "uint8", "int32", "float32"]
ARG_NAMES = (
    "a ", "a's", "a has", "a must", "w.", "w ", "w is", "out", "bias", "a_scales", "workspace",
    "stream", "size_", "lda", "num_groups", "group", "b_q_weight", "b_scales", "b_zeros",
    "g_idx", "perm", "global_scale", "is_k_full", "c_type", "s_type", "a_type", "b_type",
    "is_zp_float", "zeros", "scales",
)  # fmt: skip


def _dims():
    return hs.sampled_from([0, 1, 8, 16, 64, 128, 256, 2**31, 2**62])


@FUZZ
@given(data=hs.data())
def test_python_gemm_checks(lib, monkeypatch, data):
    fake = ValidatingLib(lib)
    monkeypatch.setattr(_lib, "_lib", fake)
    scheme = data.draw(hs.sampled_from(["gptq_int4", "awq_int4", "hqq_int4", "nvfp4", "mxfp4"]))
    import test_gemm_validation as tv

    w = tv.weights(scheme, act_order=scheme == "gptq_int4" and data.draw(hs.booleans()))
    m = data.draw(hs.sampled_from([0, 1, 5, 16, 65]), "m")
    a_dtype = data.draw(hs.sampled_from(DTYPES[:4] + ["float16", "float16"]), "a_dtype")
    a = _arr((m, K), a_dtype, ptr=0x7E1000000000)
    kwargs = {
        "out": _arr((m, N), data.draw(hs.sampled_from(["float16", "bfloat16"])), 0x7E2000000000),
        "workspace": _arr((1 << 22,), "uint8", 0x7E3000000000),
        "is_k_full": data.draw(hs.sampled_from([None, True, False])),
    }
    if a_dtype in ("int8", "float8_e4m3fn") or data.draw(hs.booleans()):
        kwargs["a_scales"] = _arr((m,), "float32", 0x7E4000000000)
    if data.draw(hs.booleans()):
        kwargs["bias"] = _arr((N,), "float16", 0x7E5000000000)
    # Mutate a few fields of the weights: shapes, dtypes, sizes, groups, flags.
    for _ in range(data.draw(hs.integers(0, 3), "mutations")):
        field = data.draw(
            hs.sampled_from(
                [
                    "b_q_weight",
                    "scales",
                    "zeros",
                    "g_idx",
                    "perm",
                    "global_scale",
                    "size_n",
                    "size_k",
                    "num_groups",
                    "group_size",
                    "is_zp_float",
                    "is_k_full",
                    "b_type",
                    "s_type",
                    "activation",
                ]
            ),  # fmt: skip
            "field",
        )
        if field in ("b_q_weight", "scales", "zeros", "g_idx", "perm", "global_scale"):
            value = data.draw(hs.sampled_from([None, "tensor"]), field)
            if value == "tensor":
                shape = data.draw(hs.lists(_dims(), min_size=1, max_size=3), field + ".shape")
                value = _arr(shape, data.draw(hs.sampled_from(DTYPES), field + ".dtype"))
        elif field in ("size_n", "size_k", "num_groups", "group_size"):
            value = data.draw(hs.one_of(sizes(), hs.sampled_from([-1, 0, 2**64, 1.0, "1"])), field)
        elif field in ("b_type", "s_type"):
            value = data.draw(hs.sampled_from(list(st.SELECTOR_TYPES)), field)
        elif field == "activation":
            value = data.draw(hs.sampled_from([None, "int8", "fp8"]), field)
        else:
            value = data.draw(hs.booleans(), field)
        setattr(w, field, value)
    try:
        got = marlin.gemm(a, w, **kwargs)
    except marlin.MarlinError as e:
        assert e.code == INVALID, e
        assert e.message and any(n in e.message for n in ARG_NAMES), e
    except (TypeError, ValueError) as e:
        assert any(n in str(e) for n in ARG_NAMES), e
    else:
        assert got is kwargs["out"]


def test_validating_lib_accepts_a_valid_call(lib, monkeypatch):
    """The harness above can tell a correct call: valid arguments reach 'workspace is NULL'."""
    import test_gemm_validation as tv

    fake = ValidatingLib(lib)
    monkeypatch.setattr(_lib, "_lib", fake)
    out = _arr((8, N), "float16", 0x7E2000000000)
    ws = _arr((1 << 22,), "uint8", 0x7E3000000000)
    assert marlin.gemm(_arr((8, K), "float16", 0x7E1000000000), tv.weights(), out=out, workspace=ws)
    assert fake.accepted == 1


# ---------------------------------------------------------------------------------------------
# Python: prepare_weights (reference packer, CPU torch) on mutated checkpoints

PREPARE_NAMES = (
    "qweight", "scales", "qzeros", "zeros", "g_idx", "global_scale", "bits", "group_size",
    "act_order", "activation", "dtype", "zero_offset", "size_k", "size_n", "group", "format",
    "weight", "packer",
)  # fmt: skip
TORCH_DTYPES = [
    "float16",
    "bfloat16",
    "float32",
    "int32",
    "int64",
    "uint8",
    "int8",
    "float8_e4m3fn",
]


@FUZZ
@given(data=hs.data())
def test_python_prepare_checks(data):
    torch = pytest.importorskip("torch")
    from marlin import quant

    fmt = data.draw(hs.sampled_from(marlin.FORMATS), "format")
    kw = {}
    if fmt == "gptq":
        kw = {
            "bits": data.draw(hs.sampled_from([4, 8])),
            "group_size": data.draw(hs.sampled_from([-1, 32, 64])),
            "act_order": data.draw(hs.booleans()),
            "sym": data.draw(hs.booleans()),
        }
        if kw["bits"] == 8 and not kw["sym"]:
            kw["sym"] = True
    torch.manual_seed(data.draw(hs.integers(0, 1000), "seed"))
    tensors = dict(quant.QUANTIZERS[fmt](torch.randn(128, 64), **kw).tensors)
    for _ in range(data.draw(hs.integers(0, 3), "mutations")):
        name = data.draw(hs.sampled_from(list(PREPARE_NAMES[:12])), "name")
        kind = data.draw(hs.sampled_from(["drop", "tensor", "poison", "value"]), "kind")
        if kind == "drop":
            tensors.pop(name, None)
        elif kind == "tensor":
            shape = data.draw(hs.lists(hs.sampled_from([0, 1, 2, 8, 16, 64, 128]), max_size=3))
            dtype = getattr(torch, data.draw(hs.sampled_from(TORCH_DTYPES)))
            tensors[name] = torch.zeros(shape).to(dtype)
        elif kind == "poison" and isinstance(tensors.get(name), torch.Tensor):
            t = tensors[name].clone()
            if t.numel():
                flat = t.view(torch.uint8) if t.element_size() == 1 else t
                v = data.draw(hs.sampled_from([-1, 16, 255, 2**20, float("nan"), float("inf")]))
                if flat.dtype.is_floating_point or isinstance(v, int):
                    with contextlib.suppress(RuntimeError, OverflowError):  # unrepresentable
                        flat.view(-1)[0] = v
            tensors[name] = t
        else:
            tensors[name] = data.draw(
                hs.sampled_from([None, 0, 1, 4, 8, 16, 48, 64, -1, True, "x", 2**40, 1.5])
            )
    try:
        pw = marlin.prepare_weights(fmt, **tensors, packer="reference")
    except (TypeError, ValueError) as e:
        assert any(n in str(e) for n in PREPARE_NAMES), e
    else:
        assert isinstance(pw, marlin.PreparedWeights)
        assert pw.b_q_weight.shape == (pw.size_k // 16, pw.size_n * 16 // pw.pack_factor)
        assert pw.scales.shape == (pw.num_groups, pw.size_n)
