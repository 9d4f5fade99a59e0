"""marlin.gemm argument checks: every error names the argument.

One validator: the rules of the call are libmarlin's (validate_gemm_args, reached through
marlin_gemm, which refuses bad arguments before any CUDA call); Python checks only what the C
arguments cannot carry (tensor objects, dtypes, devices, shapes, strides, PreparedWeights fields).
Python's checks run with the library replaced by a guard that fails when loaded; the library's
run on the real libmarlin.so (no GPU needed to refuse a call); a recording fake shows what
reaches marlin_gemm. All arrays are fake device arrays: nothing touches a GPU.
"""

import copy
import ctypes
import pickle

import pytest
from fakes import FakeCudaArray
from fakes import FakeDLPack

import marlin
from marlin import _gemm
from marlin import _lib
from marlin import scalar_types as st

K, N = 256, 128


def arr(shape, dtype, **kw):
    """A fake CUDA array: __cuda_array_interface__ where it can express the dtype, else DLPack."""
    if dtype in ("float16", "float32", "int8", "uint8", "int32"):
        return FakeCudaArray(shape, dtype, **kw)
    return FakeDLPack(shape, dtype, **kw)


def weights(scheme="gptq_int4", k=K, n=N, dtype="float16", group_size=128, act_order=False):
    g = 1 if group_size == -1 else k // group_size
    common = dict(size_k=k, size_n=n, group_size=group_size, num_groups=g)
    if scheme in ("gptq_int4", "gptq_int4_a_int8", "gptq_int4_a_fp8"):
        act = {"gptq_int4": None, "gptq_int4_a_int8": "int8", "gptq_int4_a_fp8": "fp8"}[scheme]
        return marlin.PreparedWeights(
            b_q_weight=arr((k // 16, n * 2), "int32"),
            scales=arr((g, n), dtype),
            zeros=None,
            g_idx=arr((k,), "int32") if act_order else None,
            perm=arr((k,), "int32") if act_order else None,
            b_type=st.kU4B8,
            s_type=st.kFloat16 if dtype == "float16" else st.kBFloat16,
            format="gptq",
            activation=act,
            **common,
        )
    if scheme == "awq_int4":
        return marlin.PreparedWeights(
            b_q_weight=arr((k // 16, n * 2), "int32"),
            scales=arr((g, n), dtype),
            zeros=arr((g, n // 8), "int32"),
            g_idx=None,
            perm=None,
            b_type=st.kU4,
            s_type=st.kFloat16 if dtype == "float16" else st.kBFloat16,
            format="awq",
            **common,
        )
    if scheme == "hqq_int4":
        return marlin.PreparedWeights(
            b_q_weight=arr((k // 16, n * 2), "int32"),
            scales=arr((k // 64, n), "float16"),
            zeros=arr((k // 64, n), "float16"),
            g_idx=None,
            perm=None,
            b_type=st.kU4,
            s_type=st.kFloat16,
            size_k=k,
            size_n=n,
            group_size=64,
            num_groups=k // 64,
            is_zp_float=True,
            format="hqq",
        )
    if scheme == "nvfp4":
        return marlin.PreparedWeights(
            b_q_weight=arr((k // 16, n * 2), "int32"),
            scales=arr((k // 16, n), "float8_e4m3fn"),
            zeros=None,
            g_idx=None,
            perm=None,
            b_type=st.kFE2M1f,
            s_type=st.kFE4M3fn,
            size_k=k,
            size_n=n,
            group_size=16,
            num_groups=k // 16,
            global_scale=arr((1,), "float32"),
            format="nvfp4",
        )
    if scheme in ("mxfp4", "mxfp4_a_fp8"):
        return marlin.PreparedWeights(
            b_q_weight=arr((k // 16, n * 2), "int32"),
            scales=arr((k // 32, n), "uint8"),
            zeros=None,
            g_idx=None,
            perm=None,
            b_type=st.kFE2M1f,
            s_type=st.kFE8M0fnu,
            size_k=k,
            size_n=n,
            group_size=32,
            num_groups=k // 32,
            format="mxfp4",
            activation="fp8" if scheme == "mxfp4_a_fp8" else None,
        )
    raise AssertionError(scheme)


class FakeLib:
    """Stands in for the loaded libmarlin: records marlin_gemm calls."""

    def __init__(self, status=0, message=b"", ws_bytes=4096):
        self.calls = []
        self.status = status
        self.message = message
        self.ws_bytes = ws_bytes
        self.ws_queries = []

    def marlin_gemm(self, ref):
        self.calls.append(_lib.GemmArgs.from_buffer_copy(ref._obj))
        return self.status

    def marlin_gemm_workspace_bytes(self, m, n, k, a_type, act):
        self.ws_queries.append((m, n, k, a_type, act))
        return self.ws_bytes

    def marlin_last_error(self):
        return self.message


@pytest.fixture
def no_library(monkeypatch):
    """Any attempt to load libmarlin fails the test."""

    def guard():
        raise AssertionError("libmarlin was loaded before argument validation finished")

    monkeypatch.setattr(_lib, "load", guard)


@pytest.fixture
def fake_lib(monkeypatch):
    lib = FakeLib()
    monkeypatch.setattr(_lib, "_lib", lib)
    return lib


def call(a=None, w=None, **kw):
    a = arr((8, K), "float16") if a is None else a
    w = weights() if w is None else w
    if "out" not in kw:  # (not setdefault: it would build the default even when given)
        kw["out"] = arr((a.shape[0], w.size_n), "float16")
    if "workspace" not in kw:
        kw["workspace"] = arr((4096,), "uint8")
    return marlin.gemm(a, w, **kw)


# ---------------------------------------------------------------------------------------------
# errors raised before the library is needed


@pytest.mark.usefixtures("no_library")
class TestValidation:
    def test_w_type(self):
        with pytest.raises(TypeError, match="w must be a marlin.PreparedWeights"):
            marlin.gemm(arr((8, K), "float16"), object())

    def test_a_cpu_torch_rejected(self):
        torch = pytest.importorskip("torch")
        with pytest.raises(ValueError, match="a must be on a CUDA device, but it is a CPU tensor"):
            marlin.gemm(torch.zeros(8, K, dtype=torch.float16), weights())

    def test_a_host_dlpack_rejected(self):
        with pytest.raises(ValueError, match="a must be on a CUDA device"):
            call(a=FakeDLPack((8, K), "float16", device_type=1))

    def test_cpu_bias_rejected(self):
        torch = pytest.importorskip("torch")
        with pytest.raises(ValueError, match="bias must be on a CUDA device"):
            call(bias=torch.zeros(N, dtype=torch.float16))

    def test_a_dtype(self):
        with pytest.raises(
            TypeError, match="a has dtype float32; expected one of float16, bfloat16"
        ):
            call(a=arr((8, K), "float32"))

    def test_a_ndim(self):
        with pytest.raises(ValueError, match=r"a must be 2-D \[M, K\]"):
            call(a=arr((2, 4, K), "float16"))

    def test_a_k_mismatch(self):
        with pytest.raises(ValueError, match=r"K=192 columns, but w was prepared for size_k=256"):
            call(a=arr((8, 192), "float16"))

    def test_a_inner_stride(self):
        with pytest.raises(ValueError, match=r"a must have stride\(1\) == 1"):
            call(a=arr((8, K), "float16", strides=(2 * K, 2)))

    def test_activation_mismatch(self):
        with pytest.raises(TypeError, match="w was prepared for float16/bfloat16 activations"):
            call(a=arr((8, K), "int8"), a_scales=arr((8,), "float32"))
        with pytest.raises(TypeError, match="prepared for int8 activations"):
            call(w=weights("gptq_int4_a_int8"))

    def test_group_size_divides_k(self):
        w = weights()
        w.group_size = 96
        with pytest.raises(ValueError, match="group_size=96 does not divide size_k=256"):
            call(w=w)

    def test_b_q_weight_shape(self):
        w = weights()
        w.b_q_weight = arr((K // 16, N), "int32")
        with pytest.raises(ValueError, match=r"w.b_q_weight has shape \[16, 128\]; expected"):
            call(w=w)

    def test_out_checks(self):
        with pytest.raises(ValueError, match=r"out has shape \[8, 64\]; expected \[8, 128\]"):
            call(out=arr((8, 64), "float16"))
        with pytest.raises(TypeError, match="out has dtype float32; expected one of float16"):
            call(out=arr((8, N), "float32"))
        with pytest.raises(ValueError, match="out must be contiguous"):
            call(out=arr((8, N), "float16", strides=(2 * N, 1)))
        with pytest.raises(ValueError, match="out must be on a CUDA device"):
            call(out=FakeDLPack((8, N), "float16", device_type=1))

    def test_a_scales_checks(self):
        w = weights("gptq_int4_a_int8")
        a = arr((8, K), "int8")
        with pytest.raises(TypeError, match="a_scales has dtype float16; expected float32"):
            call(a=a, w=w, a_scales=arr((8,), "float16"))
        with pytest.raises(ValueError, match=r"a_scales has shape \[7\]; expected \[8\]"):
            call(a=a, w=w, a_scales=arr((7,), "float32"))

    def test_bias_checks(self):
        with pytest.raises(ValueError, match=r"bias has shape \[64\]; expected \[128\]"):
            call(bias=arr((64,), "float16"))
        with pytest.raises(TypeError, match="bias has dtype float32; expected float16"):
            call(bias=arr((N,), "float32"))

    def test_fp8_a_with_mxfp4_needs_out(self):
        w = weights("mxfp4_a_fp8")
        a = arr((8, K), "float8_e4m3fn")
        with pytest.raises(ValueError, match="out is required for float8_e4m3fn activations"):
            marlin.gemm(a, w, a_scales=arr((8,), "float32"), workspace=arr((64,), "uint8"))

    def test_mxfp4_fp8_output_dtype_from_out(self):
        w = weights("mxfp4_a_fp8")
        a = arr((8, K), "float8_e4m3fn")
        with pytest.raises(AssertionError, match="libmarlin was loaded"):  # all checks passed
            call(a=a, w=w, a_scales=arr((8,), "float32"), out=arr((8, N), "bfloat16"))

    def test_zero_points(self):
        w = weights("awq_int4")
        w.zeros = arr((2, N), "int32")
        with pytest.raises(ValueError, match=r"w.zeros has shape \[2, 128\]; expected \[2, 16\]"):
            call(w=w)
        w = weights("hqq_int4")
        w.zeros = arr((4, N), "int32")
        with pytest.raises(TypeError, match="w.zeros has dtype int32; expected float16"):
            call(w=w)

    def test_stream_type(self):
        with pytest.raises(TypeError, match="stream must be None, an int cudaStream_t"):
            call(stream="default")

    def test_mixed_devices(self):
        a = FakeDLPack((8, K), "float16", device_id=0)
        out = FakeDLPack((8, N), "float16", device_id=1)
        with pytest.raises(ValueError, match="same CUDA device"):
            call(a=a, out=out)

    def test_valid_arguments_reach_the_library(self):
        with pytest.raises(AssertionError, match="libmarlin was loaded"):
            call()


# ---------------------------------------------------------------------------------------------
# the library's rules: refused by the real marlin_gemm before any CUDA call, as a
# MarlinArgumentError (a ValueError; MarlinTypeError, also a TypeError, for type rules) whose
# message names the field and what it is in marlin.gemm's terms


def lib_call(**kw):
    kw.setdefault("workspace", arr((1 << 22,), "uint8"))  # large enough for every test here
    return call(**kw)


@pytest.mark.usefixtures("real_lib")
class TestLibraryValidation:
    def test_a_alignment(self):
        with pytest.raises(marlin.MarlinArgumentError, match=r"a \(0x[0-9a-f]+4\) must be 16-byte"):
            lib_call(a=arr((8, K), "float16", offset_bytes=4))

    def test_a_row_stride_alignment(self):
        with pytest.raises(
            ValueError, match=r"lda \(260\) must be a multiple of 8 elements .*lda is a.stride\(0\)"
        ):
            lib_call(a=arr((8, K), "float16", strides=(K + 4, 1)))

    def test_a_int8_row_stride_alignment(self):
        w = weights("gptq_int4_a_int8")
        a = arr((8, K), "int8", strides=(K + 8, 1))
        with pytest.raises(ValueError, match=r"lda \(264\) must be a multiple of 16 elements"):
            lib_call(a=a, w=w, a_scales=arr((8,), "float32"))

    def test_lda_below_k(self):
        a = arr((8, K), "float16", strides=(K - 64, 1))  # overlapping rows
        with pytest.raises(ValueError, match=r"lda \(192\) must be >= size_k \(256\)"):
            lib_call(a=a)

    def test_scales_dtype_must_match_output(self):
        with pytest.raises(
            TypeError, match=r"s_type kBFloat16 must equal c_type kFloat16 .*w.s_type"
        ) as e:
            lib_call(w=weights(dtype="bfloat16"))
        assert isinstance(e.value, marlin.MarlinTypeError) and isinstance(e.value, ValueError)
        assert e.value.code == marlin.MARLIN_ERR_INVALID_ARGUMENT

    def test_out_dtype_must_match_a(self):
        with pytest.raises(
            TypeError,
            match=r"c_type kBFloat16 must equal a_type kFloat16 for 16-bit activations "
            r"\(in marlin.gemm: c_type is the output dtype, a_type is a.dtype\)",
        ):
            lib_call(out=arr((8, N), "bfloat16"))

    def test_size_n_multiple_of_64(self):
        with pytest.raises(
            ValueError, match=r"size_n \(96\) must be a multiple of 64 \(in marlin.gemm: size_n is"
        ):
            lib_call(w=weights(n=96), out=arr((8, 96), "float16"))

    def test_size_k_multiple_of_64(self):
        w = weights(k=272, group_size=16)
        with pytest.raises(ValueError, match=r"size_k \(272\) must be a multiple of 64"):
            lib_call(a=arr((8, 272), "float16"), w=w)

    def test_a_scales_required_for_8bit(self):
        w = weights("gptq_int4_a_int8")
        with pytest.raises(ValueError, match=r"a_scales is NULL but a_type kS8 .* per row, \[M\]"):
            lib_call(a=arr((8, K), "int8"), w=w)

    def test_a_scales_rejected_for_16bit(self):
        with pytest.raises(ValueError, match="a_scales must be NULL for 16-bit activations"):
            lib_call(a_scales=arr((8,), "float32"))

    def test_nvfp4_global_scale_required(self):
        w = weights("nvfp4")
        w.global_scale = None
        with pytest.raises(ValueError, match=r"global_scale is NULL but NVFP4 .*w.global_scale"):
            lib_call(w=w)

    def test_global_scale_only_for_nvfp4(self):
        w = weights()
        w.global_scale = arr((1,), "float32")
        with pytest.raises(ValueError, match="global_scale must be NULL: it is for NVFP4 only"):
            lib_call(w=w)

    def test_zero_points_required_and_refused(self):
        w = weights("awq_int4")
        w.zeros = None
        with pytest.raises(
            ValueError, match=r"b_zeros is NULL but b_type kU4 needs zero points.*b_zeros is w.zer"
        ):
            lib_call(w=w)
        w = weights()
        w.zeros = arr((2, N // 8), "int32")
        with pytest.raises(ValueError, match="b_zeros is given but b_type kU4B8 has no zero point"):
            lib_call(w=w)

    def test_act_order_pairs(self):
        w = weights(act_order=True)
        w.perm = None
        with pytest.raises(ValueError, match="g_idx is given without perm: act-order needs both"):
            lib_call(w=w)

    def test_num_groups_at_least_one(self):
        w = weights(group_size=-1)
        w.num_groups = 0
        w.scales = arr((0, N), "float16")
        with pytest.raises(ValueError, match=r"num_groups must be >= 1 .*got 0"):
            lib_call(w=w)

    def test_group_size_multiple_of_16(self):
        w = weights(k=256, group_size=-1)
        w.num_groups = 32  # groups of 8 rows
        w.scales = arr((32, N), "float16")
        with pytest.raises(ValueError, match=r"group size size_k/num_groups = 256/32 = 8"):
            lib_call(w=w)

    def test_workspace_too_small(self):
        need = marlin.workspace_bytes(8, N, K)
        with pytest.raises(
            ValueError, match=f"workspace is too small: 4096 bytes given, this call needs {need}"
        ):
            call()  # call() passes a 4096-byte workspace

    def test_output_overlapping_a(self):
        a = arr((8, K), "float16")
        with pytest.raises(ValueError, match=r"c overlaps a: .*\(in marlin.gemm: c is out\)"):
            lib_call(a=a, out=FakeCudaArray((8, N), "float16", ptr=a.ptr))

    def test_empty_batch_is_validated_too(self):
        # M = 0 computes nothing, but its arguments are checked like any other call's.
        with pytest.raises(ValueError, match=r"size_n \(96\) must be a multiple of 64"):
            call(a=arr((0, K), "float16"), w=weights(n=96), out=arr((0, 96), "float16"))
        out = arr((0, N), "float16")
        assert call(a=arr((0, K), "float16"), out=out) is out  # valid: no workspace use, no GPU

    def test_library_errors_of_other_kinds_stay_marlin_errors(self):
        e = _lib.error_for(_lib.MARLIN_ERR_NO_KERNEL, "no kernel for a=kFloat16", "marlin_gemm")
        assert type(e) is marlin.MarlinError
        e = _lib.error_for(_lib.MARLIN_ERR_INVALID_ARGUMENT, "marlin_x: a_type kU4 is not", "x")
        assert isinstance(e, marlin.MarlinTypeError)
        e = _lib.error_for(_lib.MARLIN_ERR_INVALID_ARGUMENT, "size_n must be > 0", "marlin_gemm")
        assert type(e) is marlin.MarlinArgumentError and not isinstance(e, TypeError)


# ---------------------------------------------------------------------------------------------
# what reaches marlin_gemm


def test_args_struct_contiguous(fake_lib):
    a = arr((8, K), "float16")
    w = weights()
    out = arr((8, N), "float16")
    ws = arr((4096,), "uint8")
    bias = arr((N,), "float16")
    got = call(a=a, w=w, out=out, workspace=ws, bias=bias, stream=1234)
    assert got is out
    (args,) = fake_lib.calls
    assert args.struct_size == ctypes.sizeof(_lib.GemmArgs)
    assert args.a == a.ptr and args.lda == K
    assert args.a_type == st.kFloat16.id and args.c_type == st.kFloat16.id
    assert args.c == out.ptr
    assert args.b_q_weight == w.b_q_weight.ptr and args.b_type == st.kU4B8.id
    assert args.b_scales == w.scales.ptr and args.s_type == st.kFloat16.id
    assert args.num_groups == 2
    assert args.b_zeros is None and args.a_scales is None and args.global_scale is None
    assert args.g_idx is None and args.perm is None
    assert args.b_bias == bias.ptr
    assert args.workspace == ws.ptr and args.workspace_bytes == 4096
    assert (args.size_m, args.size_n, args.size_k) == (8, N, K)
    assert (args.is_k_full, args.use_atomic_add, args.use_fp32_reduce, args.is_zp_float) == (
        1,
        0,
        1,
        0,
    )
    assert args.stream == 1234
    assert fake_lib.ws_queries == []  # the library sizes a given workspace itself, once


def test_args_struct_row_strided_act_order(fake_lib):
    a = arr((5, K), "float16", strides=(K + 64, 1))
    w = weights(act_order=True)
    call(a=a, w=w, is_k_full=False, use_fp32_reduce=False, use_atomic_add=True)
    (args,) = fake_lib.calls
    assert args.lda == K + 64
    assert args.g_idx == w.g_idx.ptr and args.perm == w.perm.ptr
    assert (args.is_k_full, args.use_atomic_add, args.use_fp32_reduce) == (0, 1, 0)
    assert args.stream is None
    assert fake_lib.ws_queries == []


def test_args_struct_8bit_and_special_scales(fake_lib):
    w = weights("gptq_int4_a_int8", dtype="bfloat16")
    a_scales = arr((8,), "float32")
    call(a=arr((8, K), "int8"), w=w, a_scales=a_scales, out=arr((8, N), "bfloat16"))
    args = fake_lib.calls[-1]
    assert args.a_type == st.kS8.id and args.c_type == st.kBFloat16.id
    assert args.a_scales == a_scales.ptr
    w = weights("nvfp4")
    call(w=w)
    args = fake_lib.calls[-1]
    assert args.s_type == st.kFE4M3fn.id and args.b_type == st.kFE2M1f.id
    assert args.global_scale == w.global_scale.ptr
    w = weights("hqq_int4")
    call(w=w)
    args = fake_lib.calls[-1]
    assert args.is_zp_float == 1 and args.b_zeros == w.zeros.ptr
    w = weights("mxfp4_a_fp8")
    call(a=arr((8, K), "float8_e4m3fn"), w=w, a_scales=a_scales, out=arr((8, N), "bfloat16"))
    args = fake_lib.calls[-1]
    assert args.a_type == st.kFE4M3fn.id and args.c_type == st.kBFloat16.id
    assert args.s_type == st.kFE8M0fnu.id


def test_single_row_any_stride(fake_lib):
    a = arr((1, K), "float16", strides=(3, 1))  # row stride is irrelevant for one row
    call(a=a)
    assert fake_lib.calls[-1].lda == K


def test_library_error_becomes_marlin_error(fake_lib):
    fake_lib.status = _lib.MARLIN_ERR_NO_KERNEL
    fake_lib.message = b"no kernel for a=kFloat16 b=kU4B8 in this build: build scheme gptq_int4"
    with pytest.raises(marlin.MarlinError, match="build scheme gptq_int4") as e:
        call()
    assert e.value.code == marlin.MARLIN_ERR_NO_KERNEL
    assert e.value.status == "MARLIN_ERR_NO_KERNEL"


def test_allocated_workspace_size_is_asked_once_per_shape(fake_lib):
    # What marlin.gemm allocates when no workspace is given (the allocation itself needs CUDA).
    for _ in range(3):
        assert _gemm._allocation_bytes(fake_lib, 8, N, K, st.kFloat16.id, False) == 4096
    _gemm._allocation_bytes(fake_lib, 8, N, K, st.kFloat16.id, True)
    assert fake_lib.ws_queries == [(8, N, K, st.kFloat16.id, 0), (8, N, K, st.kFloat16.id, 1)]


def test_missing_library_message(monkeypatch, tmp_path):
    monkeypatch.setattr(_lib, "_lib", None)
    missing = tmp_path / "nope" / "libmarlin.so"
    monkeypatch.setenv("MARLIN_LIBRARY", str(missing))
    with pytest.raises(marlin.MarlinLibraryError, match=r"MARLIN_LIBRARY is set to .*nope"):
        call()
    monkeypatch.delenv("MARLIN_LIBRARY")
    if _lib.is_available():
        pytest.skip("a libmarlin.so sits next to the package")
    with pytest.raises(marlin.MarlinLibraryError) as e:
        call()
    assert "MARLIN_LIBRARY" in str(e.value) and "next to the package" in str(e.value)


def test_not_a_marlin_library(monkeypatch, tmp_path):
    import shutil
    import subprocess

    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    src = tmp_path / "x.c"
    src.write_text("int marlin_abi_version(void) { return 1; }\n")
    so = tmp_path / "libx.so"
    subprocess.run(["cc", "-shared", "-fPIC", str(src), "-o", str(so)], check=True)
    monkeypatch.setattr(_lib, "_lib", None)
    monkeypatch.setenv("MARLIN_LIBRARY", str(so))
    with pytest.raises(marlin.MarlinLibraryError, match="does not export marlin_last_error"):
        _lib.load()


# ---------------------------------------------------------------------------------------------
# issue 8: sizes, dtypes and the act-order shard flag


@pytest.mark.usefixtures("no_library")
class TestSizesAndDtypes:
    def test_workspace_bytes_bad_a_dtype(self):
        # Was a bare KeyError.
        with pytest.raises(
            ValueError,
            match="a_dtype 'float32' is not an activation dtype; valid: float16, bfloat16, int8, "
            "float8_e4m3fn",
        ):
            marlin.workspace_bytes(16, 64, 64, a_dtype="float32")
        with pytest.raises(TypeError, match="a_dtype must be a dtype name"):
            marlin.workspace_bytes(16, 64, 64, a_dtype=2.5)

    def test_workspace_bytes_sizes_beyond_int64(self):
        # ctypes wraps 2**64 to 0 silently: the call returned 4096 for it.
        with pytest.raises(ValueError, match="size_m=18446744073709551616 does not fit in int64"):
            marlin.workspace_bytes(2**64, 64, 64)
        with pytest.raises(ValueError, match="size_k=-9223372036854775809 does not fit in int64"):
            marlin.workspace_bytes(16, 64, -(2**63) - 1)
        with pytest.raises(TypeError, match="size_n must be an int; got float"):
            marlin.workspace_bytes(16, 64.0, 64)
        with pytest.raises(TypeError, match="size_m must be an int; got bool"):
            marlin.workspace_bytes(True, 64, 64)

    def test_gemm_weight_fields_must_be_ints(self):
        w = weights()
        w.size_n = "128"
        with pytest.raises(TypeError, match="w.size_n must be an int; got str"):
            marlin.gemm(arr((8, K), "float16"), w, out=arr((8, N), "float16"))
        w = weights()
        w.size_n = 2**64  # ctypes would wrap it into the int64 field
        with pytest.raises(ValueError, match="w.size_n=18446744073709551616 does not fit in int64"):
            call(w=w, out=arr((8, N), "float16"))
        w = weights()
        w.b_type = "kU4B8"
        with pytest.raises(TypeError, match="w.b_type must be a marlin.scalar_types.ScalarType"):
            call(w=w)

    def test_k_shard_needs_is_k_full_false(self):
        w = weights(act_order=True)
        w.is_k_full = False
        w.group_size = 0
        with pytest.raises(ValueError, match="is_k_full=True but w is an act-order K shard"):
            call(w=w, is_k_full=True)
        w = weights()
        w.group_size = 0
        with pytest.raises(ValueError, match="w.group_size=0 .* needs act-order weights"):
            call(w=w)


def test_k_shard_runs_with_is_k_full_false(fake_lib):
    w = weights(act_order=True)
    w.is_k_full = False
    w.group_size = 0
    w.num_groups = 3  # a shard's rows need not divide into the checkpoint's groups
    w.scales = arr((3, N), "float16")
    call(w=w)
    assert fake_lib.calls[-1].is_k_full == 0 and fake_lib.calls[-1].num_groups == 3
    call(w=weights(act_order=True))  # full K: the default stays is_k_full = 1
    assert fake_lib.calls[-1].is_k_full == 1
    call(w=weights(act_order=True), is_k_full=False)
    assert fake_lib.calls[-1].is_k_full == 0


def test_marlin_error_names_the_function_once():
    e = marlin.MarlinError(
        1, "marlin_gemm_workspace_bytes: size_m=-1 ...", "marlin_gemm_workspace_bytes"
    )
    assert str(e) == "marlin_gemm_workspace_bytes: size_m=-1 ... [MARLIN_ERR_INVALID_ARGUMENT]"
    e = marlin.MarlinError(1, "size_m must be >= 0", "marlin_gemm")
    assert str(e) == "marlin_gemm: size_m must be >= 0 [MARLIN_ERR_INVALID_ARGUMENT]"


@pytest.mark.usefixtures("real_lib")
class TestLibrarySizesAndTypes:
    def test_workspace_bytes_of_a_weight_type(self):
        # Was Python's own check; the library's rule is the only one now (a TypeError and a
        # ValueError, as both kinds of callers expected).
        with pytest.raises(TypeError, match="a_type kU4 is not an activation type") as e:
            marlin.workspace_bytes(16, 64, 64, a_dtype=st.kU4)
        assert isinstance(e.value, ValueError)

    def test_gemm_size_n_beyond_int32(self):
        # Arrays describing size_n = 2**62: marlin.gemm once asked the library for the workspace
        # first, which divided by zero (SIGFPE) before the library's own size checks; now a
        # given workspace is sized by marlin_gemm's validation alone.
        n = 2**62
        w = weights()
        w.size_n = n
        w.b_q_weight = arr((K // 16, n * 2), "int32", ptr=0x7E0000000000)
        w.scales = arr((2, n), "float16", ptr=0x7E1000000000)
        out = arr((8, n), "float16", ptr=0x7E2000000000)
        with pytest.raises(
            ValueError, match=r"size_n=4611686018427387904 size_k=256 lda=256: each must fit in int"
        ):
            call(w=w, out=out)


# ---------------------------------------------------------------------------------------------
# the weights are checked and described once per PreparedWeights


def test_weights_are_described_once(fake_lib):
    w = weights()
    call(w=w)
    plan = w.__dict__["_gemm_plan"]
    call(w=w)
    assert w.__dict__["_gemm_plan"] is plan
    assert fake_lib.calls[0].b_scales == fake_lib.calls[1].b_scales == w.scales.ptr
    assert w == weights_like(w)  # the cache is no field: equality and repr ignore it
    assert "_gemm_plan" not in repr(w)


def weights_like(w):
    return marlin.PreparedWeights(**{f: getattr(w, f) for f in w.__dataclass_fields__})


def test_an_assigned_field_replaces_the_cached_description(fake_lib):
    w = weights()
    call(w=w)
    w.scales = arr((3, N), "float16")
    with pytest.raises(ValueError, match=r"w.scales has shape \[3, 128\]; expected \[2, 128\]"):
        call(w=w)
    w.scales = arr((2, N), "float16")
    call(w=w)
    assert fake_lib.calls[-1].b_scales == w.scales.ptr


def test_copies_do_not_share_the_cached_description(fake_lib):
    w = weights()
    call(w=w)
    for twin in (copy.copy(w), copy.deepcopy(w)):
        assert "_gemm_plan" not in twin.__dict__
    twin = pickle.loads(pickle.dumps(weights(scheme="gptq_int4")))
    assert "_gemm_plan" not in twin.__dict__


def test_a_torch_weight_repointed_in_place_is_described_again():
    class Tensor:  # what still_describes reads of a torch tensor
        def __init__(self, ptr):
            self.ptr = ptr

        def data_ptr(self):
            return self.ptr

    w = weights()
    plan = _gemm._WeightsPlan(w)
    tensor = Tensor(0x1000)
    plan.torch_ptrs = [(tensor, 0x1000)]
    assert plan.still_describes(w)
    tensor.ptr = 0x2000  # e.g. scales.set_(other) or scales.data = other
    assert not plan.still_describes(w)


def test_an_assigned_field_is_described_again():
    w = weights()
    plan = _gemm._WeightsPlan(w)
    assert plan.still_describes(w)
    w.is_k_full = False
    assert not plan.still_describes(w)
    w = weights()
    plan = _gemm._WeightsPlan(w)
    w.scales = arr((2, N), "float16")  # same shape, other memory
    assert not plan.still_describes(w)
