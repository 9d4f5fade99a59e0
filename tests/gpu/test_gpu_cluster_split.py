"""Split-K in thread-block clusters (sm_90, design.md section 11): a split launch puts each output
tile's splits in one cluster, and they sum through each other's shared memory in split order.

A child process runs forced split configs (every tile shape, splits 2-8, the wide wgmma tile,
channelwise scales, zero points, bias, bf16) twice per case: on a fresh workspace, and on one
whose split-K tickets are garbage and whose partial sums are NaN. These tests check that every
result is right against a float64 reference, that with clusters the garbage workspace changes
nothing (the clusters touch neither), that a process run with MARLIN_CLUSTER_SPLIT=0 gets the
same bits on the fresh workspace and is thrown off by the garbage one (so that the check above can
fail), and that a malformed value of the variable is an error naming it.
"""

import textwrap

import pytest

torch = pytest.importorskip("torch")

from helpers import TOLERANCE  # noqa: E402
from helpers import built  # noqa: E402
from helpers import run_child  # noqa: E402

_CHILD = textwrap.dedent(
    """
    import torch, marlin
    from marlin import _lib, quant
    from helpers import errors, seed_for

    # (scheme, dtype, bias, M, forced exec config: threads, thread_k, thread_n, thread_m_blocks,
    # m_block_size_8, splits); K = 2048, N = 512.
    CASES = [
        ("gptq", torch.float16, True, 5, (128, 128, 64, 1, True, 2)),
        ("gptq", torch.float16, False, 8, (128, 128, 64, 1, True, 8)),
        ("gptq", torch.float16, True, 16, (256, 128, 128, 1, False, 3)),
        ("gptq", torch.bfloat16, False, 29, (128, 128, 64, 2, False, 4)),
        ("gptq", torch.float16, True, 61, (128, 64, 128, 4, False, 6)),
        ("gptq", torch.float16, False, 64, (256, 64, 256, 4, False, 8)),
        ("gptq", torch.float16, True, 192, (128, 128, 64, 4, False, 3)),
        ("channelwise", torch.bfloat16, True, 33, (128, 128, 64, 2, False, 5)),
        ("awq", torch.float16, False, 12, (128, 128, 64, 1, False, 7)),
    ]
    results = []
    for index, (scheme, dtype, with_bias, m, config) in enumerate(CASES):
        torch.manual_seed(seed_for("cluster-split", index))
        k, n = 2048, 512
        w_full = torch.randn(k, n, device="cuda")
        if scheme == "awq":
            w = marlin.prepare_weights("awq", **quant.quantize_awq(w_full, 128, dtype).tensors)
        else:
            group = -1 if scheme == "channelwise" else 128
            q = quant.quantize_gptq(w_full, group_size=group, dtype=dtype)
            w = marlin.prepare_weights("gptq", **q.tensors)
        a = torch.randn(m, k, device="cuda", dtype=dtype)
        bias = torch.randn(n, device="cuda", dtype=dtype) if with_bias else None
        ref = quant.reference_gemm(a, w, bias=bias, dtype=torch.float64)
        outs = []
        for garbage in (False, True):
            ws = marlin.make_workspace(m, n, k, str(dtype).split(".")[-1])
            if garbage:
                ws[:4096].view(torch.int32).fill_(12345)  # no split ever draws the last ticket
                ws[4096:].view(torch.float32).fill_(float("nan"))
            out = torch.full((m, n), float("nan"), device="cuda", dtype=dtype)
            with _lib.forced_exec_config(*config):
                marlin.gemm(a, w, bias=bias, out=out, workspace=ws)
            torch.cuda.synchronize()
            outs.append(out.cpu())
        results.append({
            "case": f"{scheme}-{str(dtype)[6:]}-m{m}-{config}",
            "fresh": outs[0],
            "garbage": outs[1],
            "error": errors(outs[0].cuda(), ref)["mean_rel"],
        })
    torch.save(results, sys.argv[1])
    """
)


@pytest.fixture(autouse=True)
def _need_schemes():
    for scheme in ("gptq_int4", "awq_int4"):
        if not built().get(scheme):
            pytest.skip(f"scheme {scheme} not built in this libmarlin.so")


def _results(tmp_path, value):
    proc, path = run_child(tmp_path, _CHILD, {"MARLIN_CLUSTER_SPLIT": value}, str(value))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(path)


def _same_bits(x, y) -> bool:
    return torch.equal(x.view(torch.int16), y.view(torch.int16))


def test_clusters_match_the_partials_in_the_workspace(tmp_path):
    if torch.cuda.get_device_capability() < (9, 0):
        pytest.skip("thread-block clusters need sm_90")
    clusters, partials = _results(tmp_path, None), _results(tmp_path, "0")
    for with_clusters, without in zip(clusters, partials, strict=True):
        case = with_clusters["case"]
        assert with_clusters["error"] < TOLERANCE, f"{case}: mean rel error"
        assert _same_bits(with_clusters["fresh"], without["fresh"]), (
            f"{case}: clusters and C_tmp partials give different bits"
        )
        assert _same_bits(with_clusters["garbage"], with_clusters["fresh"]), (
            f"{case}: with clusters the split-K tickets or partials were used"
        )
        assert not _same_bits(without["garbage"], without["fresh"]), (
            f"{case}: MARLIN_CLUSTER_SPLIT=0 did not use the workspace's tickets"
        )


def test_malformed_variable_is_an_error_naming_it(tmp_path):
    proc, _ = run_child(tmp_path, _CHILD, {"MARLIN_CLUSTER_SPLIT": "on"}, "on")
    assert proc.returncode != 0
    assert "MARLIN_CLUSTER_SPLIT must be 0 or 1, got 'on'" in proc.stderr
