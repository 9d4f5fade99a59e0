"""The tensor-core kernel's edges (issue 6): M around every tile and block boundary, the smallest
K and N tiles, every split factor and exec config the dispatcher can choose (forced through
marlin_gemm_with_config), and bitwise-identical outputs run to run.

GPTQ int4 (fp16 and bf16, group 128 and channelwise), and its int8 / fp8 activation schemes (the
same body, activations widened in registers); float64 reference on the dequantized weights,
output poisoned with NaN before each call.
"""

import pytest

torch = pytest.importorskip("torch")

from helpers import TOLERANCE  # noqa: E402
from helpers import built  # noqa: E402
from helpers import seed_for  # noqa: E402

import marlin  # noqa: E402
from marlin import _lib  # noqa: E402
from marlin import quant  # noqa: E402

EDGE_MS = list(range(1, 66)) + [127, 128, 129, 255, 256, 257]
# (threads, thread_k, thread_n, thread_m_blocks, m_block_size_8): every tile the preset builds.
SMALL = [(256, 128, 128), (128, 64, 128), (128, 128, 64)]
LARGE = [(256, 64, 256), (128, 64, 128), (128, 128, 64)]
TILES = [(*tc, 1, m8) for tc in SMALL for m8 in (True, False)] + [
    (*tc, tmb, False) for tc in LARGE for tmb in (2, 3, 4)
]


A8_MS = list(range(1, 18)) + [31, 32, 33, 47, 48, 49, 63, 64, 65, 127, 128, 129, 255, 256, 257]
QUANTIZE_ACTIVATION = {"int8": quant.quantize_activation_int8, "fp8": quant.quantize_activation_fp8}


def _need_gptq(activation=None):
    scheme = f"gptq_int4_a_{activation}" if activation else "gptq_int4"
    if not built().get(scheme):
        pytest.skip(f"scheme {scheme} not built in this libmarlin.so")
    if activation == "fp8" and torch.cuda.get_device_capability() < (8, 9):
        pytest.skip("fp8 activations need compute capability >= 8.9")


_cache = {}


def weights(k, n, group_size, dtype, activation=None):
    key = (k, n, group_size, dtype, activation)
    if key not in _cache:
        torch.manual_seed(seed_for("edge-w", *key[:4]))
        q = quant.quantize_gptq(
            torch.randn(k, n, device="cuda"), group_size=group_size, dtype=dtype
        )
        _cache.clear()
        _cache[key] = marlin.prepare_weights("gptq", activation=activation, **q.tensors)
    return _cache[key]


def run(a, w, config=None, a_scales=None, dtype=None):
    dtype = dtype or a.dtype
    out = torch.full((a.shape[0], w.size_n), float("nan"), device="cuda", dtype=dtype)
    ws = marlin.make_workspace(a.shape[0], w.size_n, w.size_k, a.dtype)
    if config is None:
        marlin.gemm(a, w, a_scales=a_scales, out=out, workspace=ws)
        return out
    with _lib.forced_exec_config(*config):
        marlin.gemm(a, w, a_scales=a_scales, out=out, workspace=ws)
    return out


def check(out, a, w, a_scales=None):
    ref = quant.reference_gemm(a, w, a_scales=a_scales, dtype=torch.float64)
    assert not torch.isnan(out).any(), "unwritten or non-finite outputs"
    err = float((out.double() - ref).abs().mean() / ref.abs().mean())
    assert err < TOLERANCE, f"mean rel error {err:.3e}"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["f16", "bf16"])
@pytest.mark.parametrize("m", EDGE_MS)
def test_m_edges(m, dtype):
    _need_gptq()
    w = weights(1024, 512, 128, dtype)
    torch.manual_seed(seed_for("edge-a", m))
    a = torch.randn(m, 1024, device="cuda", dtype=dtype)
    check(run(a, w), a, w)


@pytest.mark.parametrize("k,n", [(128, 64), (64, 128), (192, 384), (64, 256)])
@pytest.mark.parametrize("m", [1, 9, 33])
def test_smallest_tiles(k, n, m):
    _need_gptq()
    w = weights(k, n, -1, torch.float16)
    a = torch.randn(m, k, device="cuda", dtype=torch.float16)
    check(run(a, w), a, w)


def test_no_tile_fits_is_an_error():
    """64 x 64 fits no tile of the preset (BK 64 comes with BN >= 128): an error naming it."""
    _need_gptq()
    w = weights(64, 64, -1, torch.float16)
    a = torch.randn(1, 64, device="cuda", dtype=torch.float16)
    with pytest.raises(marlin.MarlinError, match="size_k=64 and size_n=64"):
        run(a, w)


@pytest.mark.parametrize("tile", TILES, ids=lambda t: "t{}-k{}-n{}-m{}-{}".format(*t))
@pytest.mark.parametrize("splits", [1, 2, 3, 4, 5, 6, 7, 8])
def test_forced_configs(tile, splits):
    """Every tile x split factor the dispatcher (or its measured table) may pick, M <= 64."""
    _need_gptq()
    threads, tk, tn, tmb, m8 = tile
    m = 5 if m8 else 16 * tmb - 3
    w = weights(2048, 512, 128, torch.float16)
    a = torch.randn(m, 2048, device="cuda", dtype=torch.float16)
    check(run(a, w, (threads, tk, tn, tmb, m8, splits)), a, w)


# (M, splits): M around the wide tile's boundaries; split only where M is one launch (a multiple
# of 64 rows, at most 256: exec_config.h kSplitKMaxRows), else upstream's M loop runs passes.
WIDE_EDGES = [(m, 1) for m in (65, 100, 127, 128, 129, 191, 192, 255, 256, 257, 383)] + [
    (m, 3) for m in (128, 192, 256)
]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["f16", "bf16"])
@pytest.mark.parametrize("m,splits", WIDE_EDGES, ids=lambda v: str(v))
def test_wide_tile_m_edges(m, splits, dtype):
    """The wide 128-row wgmma tile (sm_90a) of the 128-thread 128 x 64 config, whole and split;
    elsewhere the config's own 64-row tiles."""
    _need_gptq()
    w = weights(2048, 512, 128, dtype)
    torch.manual_seed(seed_for("edge-wide", m, splits))
    a = torch.randn(m, 2048, device="cuda", dtype=dtype)
    check(run(a, w, (128, 128, 64, 4, False, splits)), a, w)


@pytest.mark.parametrize("activation", ["int8", "fp8"])
@pytest.mark.parametrize("m", A8_MS)
def test_8bit_activation_m_edges(m, activation):
    """8-bit activations, M around the 16-row tiles' and the passes' boundaries (fp16 output)."""
    _need_gptq(activation)
    w = weights(1024, 512, 128, torch.float16, activation)
    torch.manual_seed(seed_for("edge-a8", activation, m))
    a, a_scales = QUANTIZE_ACTIVATION[activation](torch.randn(m, 1024, device="cuda"))
    check(run(a, w, a_scales=a_scales, dtype=torch.float16), a, w, a_scales)


@pytest.mark.parametrize("activation", ["int8", "fp8"])
@pytest.mark.parametrize(
    "tile", [t for t in TILES if not t[4]], ids=lambda t: "t{}-k{}-n{}-m{}".format(*t)
)
@pytest.mark.parametrize("splits", [1, 3, 8])
def test_8bit_activation_forced_configs(tile, splits, activation):
    """Every 8-bit-activation tile (16 rows and more: no 8-row tile) x split factors, bf16 out."""
    _need_gptq(activation)
    threads, tk, tn, tmb, m8 = tile
    m = 16 * tmb - 3
    w = weights(2048, 512, 128, torch.bfloat16, activation)
    torch.manual_seed(seed_for("forced-a8", activation, *tile, splits))
    a, a_scales = QUANTIZE_ACTIVATION[activation](torch.randn(m, 2048, device="cuda"))
    out = run(a, w, (threads, tk, tn, tmb, m8, splits), a_scales, torch.bfloat16)
    check(out, a, w, a_scales)


@pytest.mark.parametrize(
    "m,k,n", [(1, 4096, 4096), (7, 4096, 1024), (16, 2048, 2048), (64, 1024, 4096)]
)
def test_bitwise_repeatable(m, k, n):
    """The same call three times on one workspace (never re-zeroed) and once on a fresh one."""
    _need_gptq()
    w = weights(k, n, 128, torch.float16)
    a = torch.randn(m, k, device="cuda", dtype=torch.float16)
    out = torch.empty(m, n, device="cuda", dtype=torch.float16)
    ws = marlin.make_workspace(m, n, k)
    results = []
    for _ in range(3):
        marlin.gemm(a, w, out=out, workspace=ws)
        results.append(out.clone())
    results.append(run(a, w))
    for r in results[1:]:
        assert torch.equal(r, results[0]), "outputs differ between calls"
    assert int(ws[:4096].count_nonzero()) == 0, "split-K tickets not back at 0"
