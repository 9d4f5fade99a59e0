"""torch.ops.marlin.gemm on the CPU: registration, the fake (meta) implementation, and
torch.compile(fullgraph=True) tracing a model that calls it (on meta tensors, so no GPU runs;
the real implementation is marlin.gemm, covered by the GPU suite)."""

import pytest

torch = pytest.importorskip("torch")

import marlin  # noqa: E402
from marlin import quant  # noqa: E402
from marlin import torch_ops  # noqa: E402


def _prepared(k=128, n=64, group=64):
    q = quant.quantize_gptq(torch.randn(k, n), group_size=group)
    return marlin.prepare_weights("gptq", packer="reference", **q.tensors)


def _on_meta(w):
    fields = {}
    for name in ("b_q_weight", "scales", "zeros", "g_idx", "perm", "global_scale"):
        v = getattr(w, name)
        fields[name] = v.to("meta") if isinstance(v, torch.Tensor) else v
    return marlin.PreparedWeights(**{**w.__dict__, **fields})


def test_registered_with_its_schema():
    schema = str(torch.ops.marlin.gemm.default._schema)
    for arg in (
        "Tensor a",
        "Tensor b_q_weight",
        "Tensor? zeros",
        "SymInt b_type",
        "bool is_k_full",
    ):
        assert arg in schema, schema
    assert schema.endswith("-> Tensor")


def test_fake_gives_shape_and_dtype():
    w = _on_meta(_prepared())
    a = torch.empty(5, 128, dtype=torch.float16, device="meta")
    y = torch_ops.gemm(a, w)
    assert y.device.type == "meta" and y.shape == (5, 64) and y.dtype == torch.float16
    y32 = torch_ops.gemm(a, w, out_dtype=torch.bfloat16)
    assert y32.dtype == torch.bfloat16


def test_fake_checks_k():
    w = _on_meta(_prepared())
    with pytest.raises(RuntimeError, match="size_k is 128"):
        torch_ops.gemm(torch.empty(5, 64, dtype=torch.float16, device="meta"), w)


def test_compile_fullgraph_traces_a_quantized_linear():
    layer = torch_ops.QuantizedLinear(_on_meta(_prepared()))
    model = torch.nn.Sequential(layer, torch.nn.ReLU())
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    compiled = torch.compile(model, fullgraph=True, backend=backend)
    x = torch.empty(2, 3, 128, dtype=torch.float16, device="meta")
    y = compiled(x)
    assert y.shape == (2, 3, 64) and y.dtype == torch.float16
    assert graphs, "torch.compile produced no graph"
    ops = [str(n.target) for n in graphs[0].graph.nodes if n.op == "call_function"]
    assert any("marlin.gemm" in o for o in ops), ops


def test_quantized_linear_from_checkpoint_keeps_buffers():
    q = quant.quantize_gptq(torch.randn(128, 64), group_size=64)
    layer = torch_ops.QuantizedLinear.from_checkpoint("gptq", packer="reference", **q.tensors)
    state = layer.state_dict()
    assert "b_q_weight" in state and "scales" in state
    assert (layer.in_features, layer.out_features) == (128, 64)
