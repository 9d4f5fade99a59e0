"""`torch.ops.marlin.gemm`: marlin.gemm as a torch custom op, for torch.compile and CUDA graphs.

    import marlin.torch_ops  # registers the op (needs torch; the rest of the package does not)
    y = marlin.torch_ops.gemm(x, prepared_weights, bias=b)   # or torch.ops.marlin.gemm(...)

The op takes the PreparedWeights tensors as tensors and its metadata as plain ints/bools, so the
graph holds no Python object. The real implementation is marlin.gemm on the current stream of
the inputs' device (no host synchronisation: output and workspace come from torch's caching
allocator, so CUDA-graph capture records them); the fake implementation gives the output's
shape and dtype for torch.compile's tracing without running anything.

Per call the real implementation does not check and describe the weights again: their plan
(marlin.gemm's _WeightsPlan, the C argument template) is cached under a key of what it was
derived from, each weight tensor's data pointer, device, dtype, shape and strides plus the int
arguments. A tensor re-pointed in place (set_), reshaped or moved gets a new key; the values
are never read on the host. The cache holds no tensor (a detached plan: pointers and facts), so
dropping a layer frees its memory; an address reused by a tensor of the same description is
described by the same plan. The op is registered with torch.library's low-level API (below),
which dispatches an eager call for a fraction of torch.library.custom_op's cost.
"""

from __future__ import annotations

import torch

from marlin import _gemm
from marlin import scalar_types as st
from marlin._prepare import PreparedWeights

_C_DTYPES = (torch.float16, torch.bfloat16)


def _weights(
    b_q_weight, scales, zeros, g_idx, perm, global_scale, b_type, s_type, group_size, num_groups,
    size_k, size_n, is_zp_float, is_k_full,
) -> PreparedWeights:  # fmt: skip
    """The PreparedWeights the op's tensor and int arguments describe."""
    return PreparedWeights(
        b_q_weight=b_q_weight,
        scales=scales,
        zeros=zeros,
        g_idx=g_idx,
        perm=perm,
        b_type=st.from_id(b_type),
        s_type=st.from_id(s_type),
        group_size=group_size,
        num_groups=num_groups,
        size_k=size_k,
        size_n=size_n,
        is_zp_float=is_zp_float,
        global_scale=global_scale,
        is_k_full=is_k_full,
    )


_WEIGHT_TENSORS = ("b_q_weight", "scales", "zeros", "g_idx", "perm", "global_scale")
# key -> detached _gemm._WeightsPlan; bounded (cleared when full, like marlin.gemm's
# workspace-size cache): a model has a few hundred weight matrices.
_plans: dict = {}
_MAX_PLANS = 4096


def _tensor_key(t):
    if t is None:
        return None
    return (t.data_ptr(), t.get_device(), t.dtype, t.shape, t.stride())


def _plan(
    b_q_weight, scales, zeros, g_idx, perm, global_scale, b_type, s_type, group_size, num_groups,
    size_k, size_n, is_zp_float, is_k_full,
):  # fmt: skip
    """The checked, described weights of the op's arguments, built once per description."""
    key = (
        b_type, s_type, group_size, num_groups, size_k, size_n, bool(is_zp_float), bool(is_k_full),
        _tensor_key(b_q_weight), _tensor_key(scales), _tensor_key(zeros), _tensor_key(g_idx),
        _tensor_key(perm), _tensor_key(global_scale),
    )  # fmt: skip
    plan = _plans.get(key)
    if plan is None:
        w = _weights(
            b_q_weight, scales, zeros, g_idx, perm, global_scale, b_type, s_type, group_size,
            num_groups, size_k, size_n, is_zp_float, is_k_full,
        )  # fmt: skip
        plan = _gemm._WeightsPlan(w).detached()
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
        _plans[key] = plan
    return plan


def _gemm_impl(
    a: torch.Tensor,
    b_q_weight: torch.Tensor,
    scales: torch.Tensor,
    zeros: torch.Tensor | None,
    g_idx: torch.Tensor | None,
    perm: torch.Tensor | None,
    global_scale: torch.Tensor | None,
    bias: torch.Tensor | None,
    a_scales: torch.Tensor | None,
    b_type: int,
    s_type: int,
    group_size: int,
    num_groups: int,
    size_k: int,
    size_n: int,
    is_zp_float: bool,
    is_k_full: bool,
    out_dtype: torch.dtype | None,
) -> torch.Tensor:
    plan = _plan(
        b_q_weight, scales, zeros, g_idx, perm, global_scale, b_type, s_type, group_size,
        num_groups, size_k, size_n, is_zp_float, is_k_full,
    )  # fmt: skip
    out = None
    if out_dtype is not None:
        out = torch.empty((a.shape[0], size_n), dtype=out_dtype, device=a.device)
    return _gemm.gemm_planned(a, plan, a_scales=a_scales, bias=bias, out=out)


def _gemm_fake(
    a,
    b_q_weight,
    scales,
    zeros,
    g_idx,
    perm,
    global_scale,
    bias,
    a_scales,
    b_type,
    s_type,
    group_size,
    num_groups,
    size_k,
    size_n,
    is_zp_float,
    is_k_full,
    out_dtype,
):
    torch._check(a.dim() == 2, lambda: f"a must be [M, K], got {tuple(a.shape)}")
    torch._check(a.shape[1] == size_k, lambda: f"a has {a.shape[1]} columns, size_k is {size_k}")
    if out_dtype is not None:
        dtype = out_dtype
    elif a.dtype in _C_DTYPES:
        dtype = a.dtype
    else:
        torch._check(scales.dtype in _C_DTYPES, lambda: "8-bit activations need out_dtype here")
        dtype = scales.dtype
    return a.new_empty((a.shape[0], size_n), dtype=dtype)


# Registered with torch.library's low-level API rather than torch.library.custom_op: the same
# schema (inferred from _gemm_impl's annotations), fake implementation and behaviour, but
# custom_op's Python autograd and dispatch wrappers cost about 20 us per eager call. The real
# implementation serves CUDA and also CPU tensors, which it refuses with marlin's message
# ("must be on a CUDA device") instead of torch's "no kernel for CPU".
_infer_schema = getattr(torch.library, "infer_schema", None)
if _infer_schema is None:  # torch < 2.5
    from torch._library.infer_schema import infer_schema as _infer_schema

_LIB = torch.library.Library("marlin", "FRAGMENT")
_LIB.define("gemm" + _infer_schema(_gemm_impl, mutates_args=()))
for _key in ("CUDA", "CPU"):
    _LIB.impl("gemm", _gemm_impl, _key)
torch.library.register_fake("marlin::gemm", _gemm_fake, lib=_LIB)
_gemm_op = torch.ops.marlin.gemm.default


def gemm(a, w: PreparedWeights, *, bias=None, a_scales=None, out_dtype=None) -> torch.Tensor:
    """torch.ops.marlin.gemm on PreparedWeights: marlin.gemm's result as a new tensor."""
    return _gemm_op(
        a,
        w.b_q_weight,
        w.scales,
        w.zeros,
        w.g_idx,
        w.perm,
        w.global_scale,
        bias,
        a_scales,
        w.b_type.id,
        w.s_type.id,
        w.group_size,
        w.num_groups,
        w.size_k,
        w.size_n,
        w.is_zp_float,
        w.is_k_full,
        out_dtype,
    )


class QuantizedLinear(torch.nn.Module):
    """y = x @ W (+ bias) with W a marlin-prepared quantized weight [in_features, out_features].

    Built from a checkpoint's tensors (`from_checkpoint("gptq", qweight=..., scales=..., ...)`,
    any format of marlin.prepare_weights) or from PreparedWeights; the prepared tensors are
    buffers, so `.to()` / state_dict work, and forward is one torch.ops.marlin.gemm (x may have
    leading batch dimensions).
    """

    def __init__(self, w: PreparedWeights, bias: torch.Tensor | None = None):
        super().__init__()
        self._meta = {
            "b_type": w.b_type.id,
            "s_type": w.s_type.id,
            "group_size": w.group_size,
            "num_groups": w.num_groups,
            "size_k": w.size_k,
            "size_n": w.size_n,
            "is_zp_float": w.is_zp_float,
            "is_k_full": w.is_k_full,
        }
        self._meta_args = tuple(self._meta.values())  # in the schema's order
        for name in _WEIGHT_TENSORS:
            value = getattr(w, name)
            self.register_buffer(name, value if isinstance(value, torch.Tensor) else None)
        self.register_buffer("bias", bias)
        self.in_features, self.out_features = w.size_k, w.size_n

    def prepared(self) -> PreparedWeights:
        """The layer's weights as PreparedWeights (for marlin.gemm or marlin.quant)."""
        tensors = [getattr(self, n) for n in ("b_q_weight", "scales", "zeros", "g_idx", "perm")]
        return _weights(*tensors, self.global_scale, **self._meta)

    @classmethod
    def from_checkpoint(cls, format: str, bias=None, **tensors) -> QuantizedLinear:
        from marlin._prepare import prepare_weights

        return cls(prepare_weights(format, **tensors), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # no reshapes on the common path (each costs a few us in eager)
            return self._gemm(x)
        lead = x.shape[:-1]
        return self._gemm(x.reshape(-1, x.shape[-1])).reshape(*lead, self.out_features)

    def _gemm(self, x2d: torch.Tensor) -> torch.Tensor:
        return _gemm_op(
            x2d,
            self.b_q_weight,
            self.scales,
            self.zeros,
            self.g_idx,
            self.perm,
            self.global_scale,
            self.bias,
            None,
            *self._meta_args,
            None,
        )
