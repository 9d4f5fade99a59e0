"""marlin's Python API on the GPU: input kinds, streams, workspace, and library error reporting."""

import ctypes

import pytest

torch = pytest.importorskip("torch")

from helpers import TOLERANCE  # noqa: E402
from helpers import built  # noqa: E402
from helpers import errors  # noqa: E402
from helpers import fp8_activation_built  # noqa: E402
from seed import SEED  # noqa: E402

import marlin  # noqa: E402
from marlin import _lib  # noqa: E402
from marlin import quant  # noqa: E402
from marlin import scalar_types as st  # noqa: E402

K, N, M = 1024, 2048, 32


@pytest.fixture(scope="module")
def gptq():
    if "gptq_int4" not in built():
        pytest.skip("scheme gptq_int4 not built in this libmarlin.so")
    torch.manual_seed(SEED)
    q = quant.quantize_gptq(torch.randn(K, N, device="cuda"), bits=4, group_size=128)
    return q, q.prepare(), q.w_ref.double()


def _a():
    return torch.randn(M, K, device="cuda", dtype=torch.float16)


def _check(out, a, w_ref):
    torch.cuda.synchronize()
    err = errors(out, a.double() @ w_ref)
    assert err["mean_rel"] < TOLERANCE, err


class CaiOnly:
    """Exposes only __cuda_array_interface__ (like a CuPy / Numba array)."""

    def __init__(self, t):
        self._t = t
        self.__cuda_array_interface__ = t.__cuda_array_interface__


def test_kernel_table():
    ks = marlin.kernels()
    assert len(ks) == _lib.num_kernels() > 0
    for k in ks:
        assert all(isinstance(t, st.ScalarType) for t in k[:4]), k
        assert k.threads in (128, 256) and k.stages in (2, 4), k
    assert marlin.abi_version() == 1
    assert set(built()) <= set(st.SCHEMES_BY_NAME)


def test_dlpack_and_cai_inputs(gptq):
    q, w, w_ref = gptq
    a = _a()
    expected = marlin.gemm(a, w)
    out = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    got = marlin.gemm(torch.utils.dlpack.to_dlpack(a), w, out=CaiOnly(out))
    assert isinstance(got, CaiOnly)
    _check(out, a, w_ref)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    got = marlin.gemm(CaiOnly(a), w)  # marlin allocates the output with torch
    assert isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_streams(gptq):
    q, w, w_ref = gptq
    a = _a()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        out = marlin.gemm(a, w)  # the current torch stream
    s.synchronize()
    _check(out, a, w_ref)
    out2 = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    marlin.gemm(a, w, out=out2, stream=s)
    s.synchronize()
    _check(out2, a, w_ref)
    marlin.gemm(a, w, out=out2, stream=s.cuda_stream)
    s.synchronize()
    _check(out2, a, w_ref)


def test_workspace_reuse(gptq):
    q, w, w_ref = gptq
    ws = marlin.make_workspace(M, N, K, "float16")
    assert ws.numel() >= marlin.workspace_bytes(M, N, K)
    for _ in range(3):
        a = _a()
        _check(marlin.gemm(a, w, workspace=ws), a, w_ref)


def test_empty_m(gptq):
    q, w, w_ref = gptq
    out = marlin.gemm(torch.empty(0, K, device="cuda", dtype=torch.float16), w)
    assert out.shape == (0, N)


def test_library_refusals_reach_python_as_argument_errors(gptq):
    """The rules are the library's alone (one validator): on real tensors its refusals arrive as
    MarlinArgumentError / MarlinTypeError naming the field in marlin.gemm's terms, and nothing
    runs (the output keeps its NaN fill)."""
    q, w, w_ref = gptq
    wide = torch.randn(M, K + 64, device="cuda", dtype=torch.float16)
    misaligned = wide[:, 4 : 4 + K]  # rows 16-byte strided, data 8 bytes off
    out = torch.full((M, N), float("nan"), device="cuda", dtype=torch.float16)
    with pytest.raises(marlin.MarlinArgumentError, match=r"a \(0x[0-9a-f]+\) must be 16-byte"):
        marlin.gemm(misaligned, w, out=out)
    with pytest.raises(TypeError, match=r"c_type kBFloat16 must equal a_type kFloat16"):
        marlin.gemm(_a(), w, out=out.to(torch.bfloat16))
    small = torch.zeros(16, device="cuda", dtype=torch.uint8)
    with pytest.raises(ValueError, match="workspace is too small: 16 bytes given"):
        marlin.gemm(_a(), w, out=out, workspace=small)
    with pytest.raises(ValueError, match="a_scales must be NULL for 16-bit activations"):
        marlin.gemm(_a(), w, out=out, a_scales=torch.ones(M, device="cuda"))
    torch.cuda.synchronize()
    assert torch.isnan(out).all()
    # An empty batch is validated too, and computes nothing.
    with pytest.raises(TypeError, match="c_type kBFloat16 must equal a_type kFloat16"):
        marlin.gemm(_a()[:0], w, out=torch.empty(0, N, device="cuda", dtype=torch.bfloat16))


def test_weights_on_another_device_run_there():
    """The weights' device is made current for the call (marlin_gemm runs on the current one)."""
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    if "gptq_int4" not in built():
        pytest.skip("scheme gptq_int4 not built in this libmarlin.so")
    torch.manual_seed(SEED)
    q = quant.quantize_gptq(torch.randn(K, N, device="cuda:1"), bits=4, group_size=128)
    w = q.prepare(packer="reference")  # torch ops on cuda:1
    a = torch.randn(M, K, device="cuda:1", dtype=torch.float16)
    assert torch.cuda.current_device() == 0
    out = marlin.gemm(a, w)
    assert out.device == torch.device("cuda", 1)
    _check(out, a, q.w_ref.double())


def test_cpu_activation_rejected(gptq):
    q, w, w_ref = gptq
    with pytest.raises(ValueError, match="a must be on a CUDA device, but it is a CPU tensor"):
        marlin.gemm(_a().cpu(), w)


def test_unbuilt_scheme_reports_clear_error():
    """A scheme left out of this build fails with MarlinError naming what is missing."""
    missing = [s for s in st.SCHEMES if s.name not in built()]
    candidates = [
        s for s in missing if s.name in ("awq_int4", "gptq_int4", "gptq_int8", "fp8", "hqq_int4")
    ]
    if not candidates:
        pytest.skip(f"every 16-bit scheme is built (missing: {[s.name for s in missing]})")
    sch = candidates[0]
    torch.manual_seed(SEED)
    w = torch.randn(K, N, device="cuda")
    fmt = sch.name.split("_")[0]
    kw = {"group_size": 64 if fmt == "hqq" else 128}
    if fmt == "gptq":
        kw["bits"] = 8 if sch.name.endswith("int8") else 4
    q = quant.QUANTIZERS[fmt](w, **kw)
    prepared = q.prepare()
    with pytest.raises(marlin.MarlinError) as e:
        marlin.gemm(_a(), prepared)
    assert e.value.code == marlin.MARLIN_ERR_NO_KERNEL, e.value
    text = str(e.value)
    assert sch.name in text or "no kernel" in text.lower(), text
    print(f"{sch.name}: {text}")


def test_off_table_config_reports_no_kernel():
    """HQQ with bf16 is in no scheme: the library must say so, not fail obscurely."""
    torch.manual_seed(SEED)
    q = quant.quantize_hqq(torch.randn(K, N, device="cuda"), group_size=64, dtype=torch.bfloat16)
    prepared = q.prepare(dtype="bfloat16")
    a = _a().to(torch.bfloat16)
    with pytest.raises(marlin.MarlinError) as e:
        marlin.gemm(a, prepared)
    assert e.value.code == marlin.MARLIN_ERR_NO_KERNEL, e.value
    assert e.value.message, "empty marlin_last_error()"
    print(str(e.value))


def test_fp8_activation_not_built_is_reported():
    if fp8_activation_built():
        pytest.skip("fp8 activation is built in this libmarlin.so")
    torch.manual_seed(SEED)
    q = quant.quantize_gptq(torch.randn(K, N, device="cuda"), bits=4, group_size=128)
    prepared = q.prepare(activation="fp8")
    a_q, a_s = quant.quantize_activation_fp8(_a())
    with pytest.raises(marlin.MarlinError) as e:
        marlin.gemm(a_q, prepared, a_scales=a_s)
    assert "fp8" in str(e.value).lower(), str(e.value)


def test_library_validates_raw_calls(gptq):
    """Bypassing Python's checks, the C ABI itself rejects bad arguments with a message."""
    q, w, w_ref = gptq
    a = _a()
    out = torch.empty(M, N, device="cuda", dtype=torch.float16)
    args = _lib.GemmArgs(
        a=a.data_ptr(), lda=K, a_type=st.kFloat16.id, c=out.data_ptr(), c_type=st.kFloat16.id,
        b_q_weight=w.b_q_weight.data_ptr(), b_type=st.kU4B8.id, b_scales=w.scales.data_ptr(),
        s_type=st.kFloat16.id, num_groups=w.num_groups, size_m=M, size_n=N - 32, size_k=K,
        is_k_full=1, use_fp32_reduce=1,
    )  # fmt: skip
    with pytest.raises(marlin.MarlinError) as e:
        _lib.gemm(args)
    assert e.value.code == marlin.MARLIN_ERR_INVALID_ARGUMENT, e.value
    assert e.value.message
    args.size_n = N
    args.struct_size = 0
    lib = _lib.load()
    status = lib.marlin_gemm(ctypes.byref(args))  # struct_size 0: must be refused
    assert status != marlin.MARLIN_OK
    assert _lib.last_error()
