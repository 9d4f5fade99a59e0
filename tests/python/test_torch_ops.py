"""torch.ops.marlin.gemm on the CPU: registration, the fake (meta) implementation,
torch.compile(fullgraph=True) tracing a model that calls it (on meta tensors, so no GPU runs),
and the real implementation's host work per call (the weights described once, opcheck) with
marlin.gemm's per-call part recorded instead of run (the GPU suite runs it)."""

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


# --- the real implementation's per-call work (issue 8: 108 us per eager call at M = 1, since it
# rebuilt and re-checked the weights every call). On the CPU the op runs with the CPU tensors
# described as if they were on cuda:0 and marlin.gemm's per-call part replaced by a recorder.


@pytest.fixture
def op_calls(monkeypatch):
    from marlin import _gemm
    from marlin import _tensors

    def describe_as_cuda(x, name):
        info = _tensors.describe(x, name, allow_host=True)
        info.device_type, info.device_index = "cuda", 0
        return info

    calls = []

    def gemm_planned(a, plan, **kwargs):
        calls.append((plan, kwargs))
        return torch.zeros(a.shape[0], plan.size_n, dtype=a.dtype)

    built = []
    weights = torch_ops._weights

    def counting_weights(*args, **kwargs):
        built.append(len(args))
        return weights(*args, **kwargs)

    monkeypatch.setattr(_gemm, "describe_cuda", describe_as_cuda)
    monkeypatch.setattr(_gemm, "gemm_planned", gemm_planned)
    monkeypatch.setattr(torch_ops, "_weights", counting_weights)
    monkeypatch.setattr(torch_ops, "_plans", {})
    return calls, built


def test_op_describes_the_weights_once(op_calls):
    calls, built = op_calls
    layer = torch_ops.QuantizedLinear(_prepared())
    for m in (1, 1, 5, 1):
        y = layer(torch.randn(m, 128, dtype=torch.float16))
        assert y.shape == (m, 64)
    assert len(calls) == 4
    assert len(built) == 1, "the weights were checked and described again on a later call"
    assert all(plan is calls[0][0] for plan, _ in calls)


def test_op_plan_is_marlin_gemms_plan(op_calls):
    from marlin import _gemm

    calls, _ = op_calls
    layer = torch_ops.QuantizedLinear(_prepared())
    layer(torch.randn(2, 128, dtype=torch.float16))
    plan = calls[0][0]
    fresh = _gemm._WeightsPlan(layer.prepared())
    assert bytes(plan.args) == bytes(fresh.args)
    assert (plan.size_k, plan.size_n, plan.is_k_full) == (128, 64, True)


def test_op_plans_again_for_a_new_description(op_calls):
    calls, built = op_calls
    layer = torch_ops.QuantizedLinear(_prepared())
    x = torch.randn(1, 128, dtype=torch.float16)
    layer(x)
    layer.scales = layer.scales.clone()  # new memory
    layer(x)
    layer.b_q_weight.set_(layer.b_q_weight.clone())  # re-pointed in place
    layer(x)
    layer(x)
    assert len(built) == 3
    assert len({id(plan) for plan, _ in calls}) == 3
    # A view of the same memory with another shape is refused, not served the cached plan.
    layer.scales = layer.scales.view(-1)
    with pytest.raises(ValueError, match="w.scales has shape"):
        layer(x)


def test_op_cache_keeps_no_tensor_alive(op_calls):
    import gc
    import weakref

    layer = torch_ops.QuantizedLinear(_prepared())
    layer(torch.randn(1, 128, dtype=torch.float16))
    assert torch_ops._plans
    alive = weakref.ref(layer.b_q_weight)
    del layer
    gc.collect()
    assert alive() is None, "the plan cache keeps a weight tensor alive"
    plan = next(iter(torch_ops._plans.values()))
    assert plan.fields is None and all(i.owner is None for i in plan.infos)


def test_op_cache_is_bounded(op_calls, monkeypatch):
    monkeypatch.setattr(torch_ops, "_MAX_PLANS", 3)
    x = torch.randn(1, 128, dtype=torch.float16)
    layers = [torch_ops.QuantizedLinear(_prepared()) for _ in range(7)]
    for layer in layers:
        layer(x)
    assert len(torch_ops._plans) <= 3


def test_opcheck_on_the_cpu(op_calls):
    # torch.library.opcheck's schema, autograd-registration, fake-tensor and AOT-dispatch checks
    # of the registration (the GPU suite runs it with the real kernel).
    layer = torch_ops.QuantizedLinear(_prepared())
    x = torch.randn(3, 128, dtype=torch.float16)
    tensors = [getattr(layer, n) for n in torch_ops._WEIGHT_TENSORS]
    args = (x, *tensors, None, None, *layer._meta.values(), None)
    torch.library.opcheck(torch.ops.marlin.gemm.default, args)


def test_cpu_tensors_get_marlins_message():
    layer = torch_ops.QuantizedLinear(_prepared())
    with pytest.raises(ValueError, match="must be on a CUDA device"):
        layer(torch.randn(1, 128, dtype=torch.float16))
