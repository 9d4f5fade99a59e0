"""marlin.gemm against a float64 torch reference on the dequantized weights, every scheme.

Each case quantizes random float weights with marlin.quant (cached per weight config), prepares
them with libmarlin's packer, draws fresh random activations, poisons the output with NaN and
checks mean|out - ref| / mean|ref| < 0.04 (upstream's criterion); the max relative error is
recorded in the report. The matrix is in cases.py.
"""

import pytest

torch = pytest.importorskip("torch")

from cases import build_cases  # noqa: E402
from cases import selected_schemes  # noqa: E402
from helpers import TOLERANCE  # noqa: E402
from helpers import WeightCache  # noqa: E402
from helpers import errors  # noqa: E402
from helpers import require_kernel  # noqa: E402
from helpers import seed_for  # noqa: E402
from helpers import skip_if_fp8_unsupported  # noqa: E402
from helpers import torch_dtype  # noqa: E402

import marlin  # noqa: E402
from marlin import _lib  # noqa: E402
from marlin import quant  # noqa: E402

CASES = build_cases(selected_schemes())
_weights = WeightCache()


def make_a(case, seed):
    """Activations [M, K] in the layout the case asks for, plus their float reference."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    a16_dtype = torch_dtype(case.dtype)
    rows, cols, r0, c0 = case.m, case.k, 0, 0
    if case.a_layout == "col_slice":  # lda = K + 64, start 32 elements in
        cols, c0 = case.k + 64, 32
    elif case.a_layout == "row_slice":  # offset rows of a taller tensor
        rows, r0 = 2 * case.m + 3, 3
    base = torch.randn(rows, cols, device="cuda", generator=g)
    a_src = base[r0 : r0 + case.m, c0 : c0 + case.k]
    if case.activation is None:
        a_full = base.to(a16_dtype)
        a = a_full[r0 : r0 + case.m, c0 : c0 + case.k]
        return a, None, a.double()
    fn = (
        quant.quantize_activation_int8
        if case.activation == "int8"
        else quant.quantize_activation_fp8
    )
    q_src, scales = fn(a_src.to(a16_dtype))
    q_full = torch.zeros(rows, cols, device="cuda", dtype=q_src.dtype)
    q_full[r0 : r0 + case.m, c0 : c0 + case.k] = q_src
    a = q_full[r0 : r0 + case.m, c0 : c0 + case.k]
    return a, scales, quant.dequantize_activation(q_src, scales).double()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_gemm(case, record_property):
    check_case(case, record_property)


# The wide 128-row wgmma tile (design.md section 11) of the preset's one config that has it, on
# every 16-bit-activation case of more than 64 rows; elsewhere (no sm_90) the config's own tiles.
WIDE_TILE_CONFIG = (128, 128, 64, 4, False, 1)
WIDE_CASES = [c for c in CASES if c.m > 64 and c.activation is None and c.k % 128 == 0]


@pytest.mark.parametrize("case", WIDE_CASES, ids=[c.id for c in WIDE_CASES])
def test_gemm_wide_tile(case, record_property):
    with _lib.forced_exec_config(*WIDE_TILE_CONFIG):
        check_case(case, record_property)


def check_case(case, record_property):
    require_kernel(case)
    seed = seed_for("a", case.id)
    q, w, w_ref, w_seed = _weights.get(case)
    a, a_scales, a_ref = make_a(case, seed)
    if case.a_layout == "col_slice":
        assert a.stride(0) == case.k + 64 and a.stride(1) == 1
    c_dtype = torch_dtype(case.dtype)
    bias = None
    if case.bias:
        bias = torch.randn(case.n, device="cuda", dtype=c_dtype) * 10
    ref = a_ref @ w_ref
    if bias is not None:
        ref = ref + bias.double()

    # 8-bit activations with FP4 scales (e8m0/e4m3) leave the output dtype open: marlin must
    # refuse to allocate it rather than guess, and the caller passes `out`.
    out_required = case.activation is not None and w.s_type.size_bits == 8
    if case.alloc_out and out_required:
        with pytest.raises(ValueError, match="out is required"):
            marlin.gemm(a, w, a_scales=a_scales, bias=bias, is_k_full=case.is_k_full)
    out = None
    if not case.alloc_out or out_required:
        out = torch.full((case.m, case.n), float("nan"), device="cuda", dtype=c_dtype)
    try:
        got = marlin.gemm(a, w, a_scales=a_scales, bias=bias, out=out, is_k_full=case.is_k_full)
    except marlin.MarlinError as e:
        skip_if_fp8_unsupported(e, case)
        raise
    torch.cuda.synchronize()
    if out is not None:
        assert got is out
    assert got.shape == (case.m, case.n) and got.dtype == c_dtype

    record_property("scheme", case.scheme)
    where = f"(seed {seed}, weight seed {w_seed}, MARLIN_TEST_SEED to reproduce)"
    nan_rows = torch.isnan(got).any(dim=1).nonzero().flatten().tolist()
    assert not nan_rows, f"NaN (unwritten?) in rows {nan_rows[:10]} of {case.m} {where}"
    err = errors(got, ref)
    record_property("mean_rel", err["mean_rel"])
    record_property("max_rel", err["max_rel"])
    assert err["mean_rel"] < TOLERANCE, f"{err} {where}"
