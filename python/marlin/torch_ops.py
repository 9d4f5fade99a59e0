"""`torch.ops.marlin.gemm`: marlin.gemm as a torch custom op, for torch.compile and CUDA graphs.

    import marlin.torch_ops  # registers the op (needs torch; the rest of the package does not)
    y = marlin.torch_ops.gemm(x, prepared_weights, bias=b)   # or torch.ops.marlin.gemm(...)

The op takes the PreparedWeights tensors as tensors and its metadata as plain ints/bools, so the
graph holds no Python object. The real implementation is marlin.gemm on the current stream of
the inputs' device (no host synchronisation: output and workspace come from torch's caching
allocator, so CUDA-graph capture records them); the fake implementation gives the output's
shape and dtype for torch.compile's tracing without running anything.
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


@torch.library.custom_op("marlin::gemm", mutates_args=())
def _gemm_op(
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
    w = _weights(
        b_q_weight, scales, zeros, g_idx, perm, global_scale, b_type, s_type, group_size,
        num_groups, size_k, size_n, is_zp_float, is_k_full,
    )  # fmt: skip
    out = None
    if out_dtype is not None:
        out = torch.empty((a.shape[0], size_n), dtype=out_dtype, device=a.device)
    return _gemm.gemm(a, w, a_scales=a_scales, bias=bias, out=out)


@_gemm_op.register_fake
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
        for name in ("b_q_weight", "scales", "zeros", "g_idx", "perm", "global_scale"):
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
        lead = x.shape[:-1]
        y = _gemm_op(
            x.reshape(-1, x.shape[-1]),
            self.b_q_weight,
            self.scales,
            self.zeros,
            self.g_idx,
            self.perm,
            self.global_scale,
            self.bias,
            None,
            out_dtype=None,
            **self._meta,
        )
        return y.reshape(*lead, self.out_features)
