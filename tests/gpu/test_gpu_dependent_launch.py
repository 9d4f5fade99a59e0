"""Programmatic dependent launch (design.md section 11): a kernel that starts while the previous
one in the stream finishes must still read what that kernel wrote.

On sm_90 the tensor-core kernels are launched early: their blocks prefetch weights into L2, then
wait for the previous grid before any load. These tests chain calls whose inputs the previous
kernel writes (activations, and weights rewritten in place), with the outputs poisoned with NaN
in between, and check every result against a float64 reference; then that the outputs are
bitwise the ones of a process run with MARLIN_DEPENDENT_LAUNCH=0, and that a malformed value
of that variable is an error naming it.
"""

import textwrap

import pytest

torch = pytest.importorskip("torch")

from helpers import TOLERANCE  # noqa: E402
from helpers import built  # noqa: E402
from helpers import errors  # noqa: E402
from helpers import run_child  # noqa: E402
from helpers import seed_for  # noqa: E402

import marlin  # noqa: E402
from marlin import _lib  # noqa: E402
from marlin import quant  # noqa: E402


@pytest.fixture(autouse=True)
def _need_gptq():
    if not built().get("gptq_int4"):
        pytest.skip("scheme gptq_int4 not built in this libmarlin.so")


def _weights(tag, k, n):
    torch.manual_seed(seed_for("pdl-w", tag, k, n))
    q = quant.quantize_gptq(torch.randn(k, n, device="cuda"), group_size=128, dtype=torch.float16)
    return marlin.prepare_weights("gptq", **q.tensors)


def _check(out, a, w):
    assert not torch.isnan(out).any(), (
        "unwritten outputs: a kernel read before its input was written"
    )
    ref = quant.reference_gemm(a, w, dtype=torch.float64)
    err = errors(out, ref)["mean_rel"]
    assert err < TOLERANCE, f"mean rel error {err:.3e}"


# Forced exec configs (threads, thread_k, thread_n, thread_m_blocks, m_block_size_8, splits):
# None = the dispatcher's choice; the others cover split-K tickets and a multi-block tile.
CONFIGS = [None, (128, 128, 64, 1, False, 4), (256, 64, 256, 4, False, 1)]


@pytest.mark.parametrize("config", CONFIGS, ids=["dispatch", "split4", "tile64x256"])
@pytest.mark.parametrize("m", [1, 16, 64])
def test_chained_layers_read_the_previous_output(m, config):
    # A long first GEMM, then a short one that reads its output: the second one's blocks start
    # while the first is still running. Every round writes fresh inputs and poisons the outputs.
    w1, w2 = _weights("up", 4096, 4096), _weights("down", 4096, 1024)
    ws = marlin.make_workspace(m, 4096, 4096, "float16")
    h = torch.empty(m, 4096, device="cuda", dtype=torch.float16)
    y = torch.empty(m, 1024, device="cuda", dtype=torch.float16)
    torch.manual_seed(seed_for("pdl-a", m))
    rounds = []

    def call(a, w, out):
        if config is None:
            marlin.gemm(a, w, out=out, workspace=ws)
        else:
            with _lib.forced_exec_config(*config):
                marlin.gemm(a, w, out=out, workspace=ws)

    for _ in range(8):
        a = torch.randn(m, 4096, device="cuda", dtype=torch.float16)
        h.fill_(float("nan"))
        y.fill_(float("nan"))
        call(a, w1, h)
        call(h, w2, y)  # no synchronisation in between: only the kernel's wait orders them
        rounds.append((a, h.clone(), y.clone()))
    torch.cuda.synchronize()
    for a, h_out, y_out in rounds:
        _check(h_out, a, w1)
        _check(y_out, h_out, w2)


def test_weights_rewritten_just_before_the_call():
    # The weights' L2 prefetch runs before the wait: a copy into the weight buffers right before
    # the call (same stream, no sync) must still be what the kernel multiplies with.
    k, n, m = 4096, 4096, 4
    target = _weights("target", k, n)
    other = _weights("other", k, n)
    torch.manual_seed(seed_for("pdl-rewrite"))
    a = torch.randn(m, k, device="cuda", dtype=torch.float16)
    out = torch.full((m, n), float("nan"), device="cuda", dtype=torch.float16)
    ws = marlin.make_workspace(m, n, k, "float16")
    original = (target.b_q_weight.clone(), target.scales.clone())
    marlin.gemm(a, target, out=out, workspace=ws)  # the kernels now sit in L2 with these weights
    target.b_q_weight.copy_(other.b_q_weight)
    target.scales.copy_(other.scales)
    marlin.gemm(a, target, out=out, workspace=ws)
    got = out.clone()
    target.b_q_weight.copy_(original[0])
    target.scales.copy_(original[1])
    torch.cuda.synchronize()
    _check(got, a, other)


_CHILD = textwrap.dedent(
    """
    import torch, marlin
    from marlin import quant
    from helpers import seed_for
    outs = []
    for m in (1, 16, 64, 300):
        torch.manual_seed(seed_for("pdl-bits", m))
        q = quant.quantize_gptq(torch.randn(2048, 1024, device="cuda"), group_size=128,
                                dtype=torch.float16)
        w = marlin.prepare_weights("gptq", **q.tensors)
        a = torch.randn(m, 2048, device="cuda", dtype=torch.float16)
        outs.append(marlin.gemm(a, w).cpu())
    torch.save(outs, sys.argv[1])
    """
)


def _run_child(tmp_path, value):
    return run_child(tmp_path, _CHILD, {"MARLIN_DEPENDENT_LAUNCH": value}, str(value))


def test_same_bits_with_and_without_dependent_launch(tmp_path):
    runs = {}
    for value in (None, "0"):
        proc, path = _run_child(tmp_path, value)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs[value] = torch.load(path)
    for with_pdl, without in zip(runs[None], runs["0"], strict=True):
        differ = int((with_pdl.view(torch.int16) != without.view(torch.int16)).sum())
        assert differ == 0, (
            f"M={with_pdl.shape[0]}: {differ} outputs differ without dependent launch"
        )


def test_malformed_variable_is_an_error_naming_it(tmp_path):
    proc, _ = _run_child(tmp_path, "yes")
    assert proc.returncode != 0
    assert "MARLIN_DEPENDENT_LAUNCH must be 0 or 1, got 'yes'" in proc.stderr
