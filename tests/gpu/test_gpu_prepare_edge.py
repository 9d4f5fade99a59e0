"""prepare_weights edge cases of issue 8 on the GPU: act-order K shards, asymmetric GPTQ, checks.

- A row-parallel act-order shard of K (uneven rows per group, every scales row kept) runs with
  is_k_full=False and matches float64 references: the shard's own product, the kernel-semantics
  reference (quant.reference_gemm) and, summed over the shards, the full layer.
- Asymmetric GPTQ (qzeros, sym=False) runs on the int zero-point kernels (awq_int4's); the
  library packer equals the reference packer bit for bit.
- NaN scales on the device are refused at prepare time; the workspace size of impossible sizes
  is an error from the real library.
"""

import pytest

torch = pytest.importorskip("torch")

from helpers import TOLERANCE  # noqa: E402
from helpers import built  # noqa: E402
from helpers import errors  # noqa: E402
from helpers import seed_for  # noqa: E402

import marlin  # noqa: E402
from marlin import quant  # noqa: E402


def _require(scheme: str, group_blocks: int, dtype: str = "kFloat16") -> None:
    served = built().get(scheme, set())
    if (dtype, dtype, group_blocks) not in served:
        pytest.skip(f"{scheme}: no kernel for a=c={dtype} group_blocks={group_blocks} here")


def _shard(q, lo: int, hi: int) -> dict:
    """Rows [lo, hi) of an act-order GPTQ checkpoint with every scales row kept (vLLM's rule
    for row-parallel act-order layers)."""
    pack = 32 // q.tensors["bits"]
    return dict(
        q.tensors,
        qweight=q.tensors["qweight"][lo // pack : hi // pack].contiguous(),
        g_idx=q.tensors["g_idx"][lo:hi].contiguous(),
    )


def _check(out, ref, what: str) -> None:
    torch.cuda.synchronize()
    err = errors(out, ref)
    assert err["mean_rel"] < TOLERANCE, (what, err)


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("m", [1, 16, 100])
def test_act_order_k_shards(bits, m):
    scheme = f"gptq_int{bits}"
    _require(scheme, 0)
    k, n, shards = 4096, 2048, 2
    torch.manual_seed(seed_for("shard", bits, m))
    w = torch.randn(k, n, device="cuda")
    q = quant.quantize_gptq(w, bits=bits, group_size=128, act_order=True)
    a = torch.randn(m, k, device="cuda", dtype=torch.float16)
    total = torch.zeros(m, n, device="cuda", dtype=torch.float64)
    rows = k // shards
    for s in range(shards):
        lo, hi = s * rows, (s + 1) * rows
        pw = marlin.prepare_weights("gptq", **_shard(q, lo, hi))  # the library packer
        assert not pw.is_k_full and pw.group_size == 0 and pw.num_groups == k // 128
        a_s = a[:, lo:hi].contiguous()
        out = marlin.gemm(a_s, pw)  # is_k_full=False from the weights
        _check(out, a_s.double() @ q.w_ref[lo:hi].double(), f"shard {s} vs A @ W")
        _check(out, quant.reference_gemm(a_s, pw), f"shard {s} vs reference_gemm")
        with pytest.raises(ValueError, match="act-order K shard"):
            marlin.gemm(a_s, pw, is_k_full=True)
        total += out.double()
    _check(total, a.double() @ q.w_ref.double(), "sum of shards vs the full layer")


def test_act_order_shard_rows_not_a_multiple_of_the_groups():
    # 86 groups of 128 rows (K = 11008); a shard of 1024 rows: 1024 % 86 != 0.
    _require("gptq_int4", 0)
    k, n, rows = 11008, 1024, 1024
    torch.manual_seed(seed_for("shard-uneven"))
    q = quant.quantize_gptq(torch.randn(k, n, device="cuda"), group_size=128, act_order=True)
    pw = marlin.prepare_weights("gptq", **_shard(q, 0, rows))
    assert (pw.size_k, pw.num_groups, pw.is_k_full) == (rows, 86, False)
    a = torch.randn(32, rows, device="cuda", dtype=torch.float16)
    out = marlin.gemm(a, pw)
    _check(out, a.double() @ q.w_ref[:rows].double(), "uneven shard vs A @ W")


@pytest.mark.parametrize("act_order", [False, True])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_asymmetric_gptq(act_order, dtype):
    _require("awq_int4", 8, {"float16": "kFloat16", "bfloat16": "kBFloat16"}[dtype])
    k, n = 2048, 4096
    torch.manual_seed(seed_for("asym", act_order, dtype))
    dt = getattr(torch, dtype)
    w = torch.randn(k, n, device="cuda") + 0.3
    q = quant.quantize_gptq(w, group_size=128, sym=False, act_order=act_order, dtype=dt)
    lib = q.prepare()
    ref = q.prepare(packer="reference")
    assert lib.scheme == "awq_int4" and lib.is_k_full
    assert torch.equal(lib.b_q_weight, ref.b_q_weight)
    assert torch.equal(lib.zeros, ref.zeros)
    a = torch.randn(64, k, device="cuda", dtype=dt)
    out = marlin.gemm(a, lib)
    _check(out, a.double() @ q.w_ref.double(), "asymmetric gptq vs A @ W")


def test_nan_scales_on_the_device_are_refused():
    q = quant.quantize_gptq(torch.randn(1024, 512, device="cuda"), group_size=128)
    t = dict(q.tensors)
    t["scales"] = t["scales"].clone()
    t["scales"][3, 7] = float("nan")
    with pytest.raises(
        ValueError, match=r"scales holds 1 NaN or inf value\(s\), the first at index"
    ):
        marlin.prepare_weights("gptq", **t)
    marlin.prepare_weights("gptq", **t, check_finite=False)  # kept on request


def test_mixed_devices_are_refused():
    q = quant.quantize_gptq(torch.randn(1024, 512, device="cuda"), group_size=128)
    with pytest.raises(ValueError, match="all tensors of one weight must be on one device"):
        marlin.prepare_weights(
            "gptq", **dict(q.tensors, scales=q.tensors["scales"].cpu()), packer="reference"
        )


@pytest.mark.parametrize(
    "sizes", [(1, 2**62, 64), (16, 2**60, 64), (2**40, 2**40, 2**40), (-1, 64, 64)]
)
def test_workspace_bytes_of_impossible_sizes(sizes):
    # SIGFPE (the first two) or a silent 4096 before; now an error naming the sizes.
    with pytest.raises(marlin.MarlinError) as e:
        marlin.workspace_bytes(*sizes, act_order=True)
    assert e.value.code == marlin.MARLIN_ERR_INVALID_ARGUMENT
    assert f"size_m={sizes[0]} size_n={sizes[1]} size_k={sizes[2]}" in str(e.value)
    assert "a_type" not in str(e.value)
