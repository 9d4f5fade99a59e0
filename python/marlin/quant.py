"""Reference quantizers, dequantizers and packers (torch, any device; for tests and examples).

Every quantizer takes float weights `w` [K, N] (in-features x out-features, the orientation of
`marlin.gemm`) and returns a `QuantizedWeight`: the checkpoint tensors in the format's own layout
(the keyword arguments of `marlin.prepare_weights`) plus `w_ref` [K, N] float32, the weights the
kernel computes with (code -> value as in design.md section 9, scales already rounded to their
storage type). The dequantizers rebuild `w_ref` from checkpoint tensors alone.

Checkpoint layouts:

- gptq:  qweight int32 [K/pack, N] (pack = 32/bits codes along K, LSB first), scales [G, N],
         optional g_idx int32 [K] (act-order); value = (q - 2^(bits-1)) * s. Asymmetric
         (sym=False): qzeros int32 [G, N/pack] (codes along N, LSB first) holding z - zero_offset
         mod 2^bits (zero_offset 1: AutoGPTQ / GPTQModel v1; 0: gptq_v2); value = (q - z) * s.
- awq:   qweight int32 [K, N/8], qzeros int32 [G, N/8], both packed along N in AWQ's order
         (column 8j+c sits in nibble slot AWQ_REVERSE_ORDER[c] = [0,4,1,5,2,6,3,7][c]),
         scales [G, N]; value = (q - z) * s.
- hqq:   qweight uint8 [N, K/2] (4-bit codes, low nibble = even k), scales/zeros [N, G] float16
         (float zero points); value = (q - z) * s.
- fp8:   qweight float8_e4m3fn [N, K], scales [N] (channelwise) or [N, K/g] (grouped).
- nvfp4: qweight uint8 [N, K/2] e2m1 pairs (low nibble = even k), scales float8_e4m3fn
         [N, K/16], global_scale float32 scalar; value = e2m1(q) * s * global_scale.
- mxfp4: qweight uint8 [N, K/2] e2m1 pairs, scales uint8 e8m0 [N, K/32];
         value = e2m1(q) * 2^(e-127).

Also: the layout-v2 packer (`pack_marlin_v2`) and a reference of `marlin_pack_weights` /
`marlin_pack_zero_points` (`reference_pack_weights`, `reference_pack_zero_points`; these and
the bit-packing helpers live in marlin._packing, which prepare_weights' reference packer uses
without importing this module), and the per-token int8 / fp8 activation quantizers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from marlin._packing import AWQ_PACK_ORDER  # noqa: F401
from marlin._packing import AWQ_REVERSE_ORDER  # noqa: F401
from marlin._packing import UNIT_K  # noqa: F401
from marlin._packing import UNIT_N  # noqa: F401
from marlin._packing import decode_code_source  # noqa: F401
from marlin._packing import pack_along  # noqa: F401
from marlin._packing import pack_awq  # noqa: F401
from marlin._packing import pack_marlin_v2  # noqa: F401
from marlin._packing import pack_nibbles  # noqa: F401
from marlin._packing import reference_pack_weights  # noqa: F401
from marlin._packing import reference_pack_zero_points  # noqa: F401
from marlin._packing import unit_position  # noqa: F401
from marlin._packing import unpack_along  # noqa: F401
from marlin._packing import unpack_awq  # noqa: F401
from marlin._packing import unpack_marlin_v2  # noqa: F401
from marlin._packing import unpack_nibbles  # noqa: F401
from marlin._prepare import prepare_weights

FP4_E2M1_MAGNITUDES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
# code -> value for all 16 codes (bit 3 = sign).
FP4_E2M1_VALUES = FP4_E2M1_MAGNITUDES + tuple(-v for v in FP4_E2M1_MAGNITUDES)
FP8_E4M3_MAX = 448.0
FP4_E2M1_MAX = 6.0


@dataclasses.dataclass
class QuantizedWeight:
    """A checkpoint-format weight plus the float32 weights [K, N] the kernel should use."""

    format: str
    tensors: dict[str, Any]
    w_ref: torch.Tensor
    group_size: int
    bits: int

    def prepare(self, **kwargs):
        """marlin.prepare_weights(self.format, **self.tensors, **kwargs)."""
        return prepare_weights(self.format, **self.tensors, **kwargs)


# ---------------------------------------------------------------------------------------------
# FP4 (e2m1), e8m0, fp8


def encode_e2m1(x: torch.Tensor) -> torch.Tensor:
    """Nearest e2m1 code (saturating at +-6) of each value; int64 codes 0..15."""
    mids = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], device=x.device)
    mag = x.abs().float()
    idx = torch.bucketize(mag, mids, right=False)
    neg = (x < 0) & (idx > 0)
    return idx.to(torch.int64) | (neg.to(torch.int64) << 3)


def decode_e2m1(codes: torch.Tensor) -> torch.Tensor:
    table = torch.tensor(FP4_E2M1_VALUES, dtype=torch.float32, device=codes.device)
    return table[codes.to(torch.int64) & 0xF]


def decode_e8m0(e: torch.Tensor) -> torch.Tensor:
    """e8m0 bytes -> float32 2^(e-127) (255 is NaN)."""
    e = e.view(torch.uint8).to(torch.float64)
    v = torch.exp2(e - 127.0)
    return torch.where(e == 255, torch.full_like(v, float("nan")), v).to(torch.float32)


def _fp8_to_float(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.uint8:
        x = x.view(torch.float8_e4m3fn)
    return x.float()


def _as_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, str):
        return {"float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    return dtype


def _check_w(w: torch.Tensor, group_size: int, multiple: int = 16) -> tuple[int, int, int]:
    if w.ndim != 2:
        raise ValueError(f"w must be 2-D [K, N]; got shape {list(w.shape)}")
    k, n = w.shape
    g = k if group_size in (-1, None) else group_size
    if g <= 0 or k % g:
        raise ValueError(f"group_size {group_size} must divide K={k}")
    if k % multiple:
        raise ValueError(f"K={k} must be a multiple of {multiple}")
    return k, n, g


def _safe_scale(amax: torch.Tensor, qmax: float) -> torch.Tensor:
    return torch.where(amax > 0, amax / qmax, torch.ones_like(amax))


# ---------------------------------------------------------------------------------------------
# quantizers


def quantize_gptq(
    w: torch.Tensor,
    bits: int = 4,
    group_size: int = 128,
    act_order: bool = False,
    dtype=torch.float16,
    generator: torch.Generator | None = None,
    include_g_idx: bool | None = None,
    sym: bool = True,
    zero_offset: int = 1,
    include_qzeros: bool | None = None,
) -> QuantizedWeight:
    """GPTQ: symmetric (kU4B8 / kU8B128) or, with sym=False, asymmetric with int zero points.

    act_order: a random g_idx permutation of the groups. qzeros (written for sym=False, and for
    sym=True when include_qzeros, as AutoGPTQ does) are int32 [G, N/pack] packed along N, LSB
    first, each code holding zero - zero_offset mod 2^bits: zero_offset=1 is the AutoGPTQ /
    GPTQModel v1 format, 0 GPTQModel's gptq_v2.
    """
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8; got {bits}")
    dtype = _as_dtype(dtype)
    k, n, g = _check_w(w, group_size, 32 // bits)
    num_groups = k // g
    w = w.float()
    g_idx = torch.arange(k, device=w.device, dtype=torch.int64) // g
    if act_order:
        g_idx = g_idx[torch.randperm(k, generator=generator, device="cpu").to(w.device)]
    perm = torch.argsort(g_idx, stable=True)
    wg = w[perm].reshape(num_groups, g, n)
    qmax = 2**bits - 1
    if sym:
        bias = 2 ** (bits - 1)
        scales = _safe_scale(wg.abs().amax(dim=1), bias - 1).to(dtype)
        z = torch.full((num_groups, n), bias, device=w.device, dtype=torch.int64)
    else:
        lo = wg.amin(dim=1).clamp(max=0)
        hi = wg.amax(dim=1).clamp(min=0)
        scales = _safe_scale(hi - lo, float(qmax)).to(dtype)
        z = torch.round(-lo / scales.float()).clamp(0, qmax).to(torch.int64)
    s = scales.float()[g_idx]  # [K, N]
    zk = z[g_idx]
    q = (torch.round(w / s) + zk).clamp(0, qmax).to(torch.int64)
    w_ref = (q - zk).float() * s
    tensors = {"qweight": pack_along(q, 0, bits), "scales": scales, "bits": bits}
    if include_g_idx is None:
        include_g_idx = act_order
    if include_g_idx:
        tensors["g_idx"] = g_idx.to(torch.int32)
    if include_qzeros is None:
        include_qzeros = not sym
    if include_qzeros:
        tensors["qzeros"] = pack_along((z - zero_offset) & qmax, 1, bits)
        tensors["zero_offset"] = zero_offset
    return QuantizedWeight("gptq", tensors, w_ref, -1 if group_size in (-1, None) else g, bits)


def dequantize_gptq(
    qweight, scales, g_idx=None, bits: int = 4, qzeros=None, zero_offset: int = 1
) -> torch.Tensor:
    q = unpack_along(qweight, 0, bits)
    k = q.shape[0]
    num_groups = scales.shape[0]
    if g_idx is None:
        g_idx = torch.arange(k, device=q.device) // (k // num_groups)
    g_idx = g_idx.to(torch.int64)
    s = scales.float()[g_idx]
    if qzeros is None:
        return (q - 2 ** (bits - 1)).float() * s
    z = (unpack_along(qzeros, 1, bits) + zero_offset) & (2**bits - 1)
    return (q - z[g_idx]).float() * s


def quantize_awq(w: torch.Tensor, group_size: int = 128, dtype=torch.float16) -> QuantizedWeight:
    """Asymmetric int4 with integer zero points (kU4), AWQ checkpoint layout."""
    dtype = _as_dtype(dtype)
    k, n, g = _check_w(w, group_size)
    if n % 8:
        raise ValueError(f"N={n} must be a multiple of 8")
    num_groups = k // g
    w = w.float()
    wg = w.reshape(num_groups, g, n)
    lo = wg.amin(dim=1).clamp(max=0)
    hi = wg.amax(dim=1).clamp(min=0)
    scales = _safe_scale(hi - lo, 15.0).to(dtype)
    s = scales.float()
    z = torch.round(-lo / s).clamp(0, 15)
    gi = torch.arange(k, device=w.device) // g
    q = (torch.round(w / s[gi]) + z[gi]).clamp(0, 15)
    w_ref = (q - z[gi]) * s[gi]
    tensors = {
        "qweight": pack_awq(q.to(torch.int64)),
        "qzeros": pack_awq(z.to(torch.int64)),
        "scales": scales,
    }
    return QuantizedWeight("awq", tensors, w_ref, -1 if group_size in (-1, None) else g, 4)


def dequantize_awq(qweight, qzeros, scales) -> torch.Tensor:
    q = unpack_awq(qweight)
    z = unpack_awq(qzeros)
    k = q.shape[0]
    gi = torch.arange(k, device=q.device) // (k // scales.shape[0])
    return (q - z[gi]).float() * scales.float()[gi]


def quantize_hqq(w: torch.Tensor, group_size: int = 64, dtype=torch.float16) -> QuantizedWeight:
    """Asymmetric int4 with float zero points (HQQ-style round-to-nearest, no optimisation)."""
    dtype = _as_dtype(dtype)
    k, n, g = _check_w(w, group_size)
    num_groups = k // g
    wt = w.float().t().reshape(n, num_groups, g)
    lo, hi = wt.amin(dim=2), wt.amax(dim=2)
    scales = _safe_scale(hi - lo, 15.0).to(dtype)
    s = scales.float()
    zeros = (-lo / s).to(dtype)
    z = zeros.float()
    q = torch.round(wt / s[..., None] + z[..., None]).clamp(0, 15)
    w_ref = ((q - z[..., None]) * s[..., None]).reshape(n, k).t().contiguous()
    q = q.reshape(n, k).to(torch.int64)
    tensors = {"qweight": pack_nibbles(q), "scales": scales, "zeros": zeros, "group_size": g}
    return QuantizedWeight("hqq", tensors, w_ref, g, 4)


def dequantize_hqq(qweight, scales, zeros, group_size: int = 64) -> torch.Tensor:
    """qweight uint8 [N, K/2] (packed nibbles) or [N, K] (one code per byte)."""
    n, num_groups = scales.shape
    k = num_groups * group_size
    q = qweight.view(torch.uint8).to(torch.int64)
    if q.shape[1] * 2 == k:
        q = unpack_nibbles(qweight)
    elif q.shape[1] != k:
        raise ValueError(f"qweight shape {list(qweight.shape)} fits neither [N, K] nor [N, K/2]")
    gi = torch.arange(k, device=q.device) // group_size
    wt = (q.float() - zeros.float()[:, gi]) * scales.float()[:, gi]
    return wt.t().contiguous()


def quantize_fp8(w: torch.Tensor, group_size: int = -1, dtype=torch.float16) -> QuantizedWeight:
    """FP8 e4m3 weights [N, K] with channelwise ([N]) or grouped ([N, K/g]) scales."""
    dtype = _as_dtype(dtype)
    k, n, g = _check_w(w, group_size)
    num_groups = k // g
    wt = w.float().t().reshape(n, num_groups, g)
    scales = _safe_scale(wt.abs().amax(dim=2), FP8_E4M3_MAX).to(dtype)  # [N, G]
    s = scales.float()[..., None]
    q = (wt / s).clamp(-FP8_E4M3_MAX, FP8_E4M3_MAX).to(torch.float8_e4m3fn)
    w_ref = (q.float() * s).reshape(n, k).t().contiguous()
    q = q.reshape(n, k)
    if group_size in (-1, None):
        scales = scales.reshape(n)
    return QuantizedWeight(
        "fp8", {"qweight": q, "scales": scales}, w_ref, -1 if group_size in (-1, None) else g, 8
    )


def dequantize_fp8(qweight, scales) -> torch.Tensor:
    q = _fp8_to_float(qweight)
    n, k = q.shape
    s = scales.float().reshape(n, -1)
    g = k // s.shape[1]
    return (q.reshape(n, s.shape[1], g) * s[..., None]).reshape(n, k).t().contiguous()


def quantize_nvfp4(w: torch.Tensor) -> QuantizedWeight:
    """NVFP4: e2m1 codes, e4m3 scales per 16 values along K, one float32 global scale."""
    k, n, g = _check_w(w, 16, 32)
    wt = w.float().t().reshape(n, k // 16, 16)
    gmax = wt.abs().amax()
    global_scale = torch.where(
        gmax > 0, gmax / (FP8_E4M3_MAX * FP4_E2M1_MAX), torch.ones_like(gmax)
    ).float()
    blk = wt.abs().amax(dim=2) / FP4_E2M1_MAX / global_scale
    scales = blk.clamp(max=FP8_E4M3_MAX).to(torch.float8_e4m3fn)  # [N, K/16]
    eff = scales.float() * global_scale
    x = torch.where(eff[..., None] > 0, wt / eff[..., None], torch.zeros_like(wt))
    codes = encode_e2m1(x)
    w_ref = (decode_e2m1(codes) * eff[..., None]).reshape(n, k).t().contiguous()
    tensors = {
        "qweight": pack_nibbles(codes.reshape(n, k)),
        "scales": scales,
        "global_scale": global_scale.reshape(()),
    }
    return QuantizedWeight("nvfp4", tensors, w_ref, 16, 4)


def dequantize_nvfp4(qweight, scales, global_scale) -> torch.Tensor:
    codes = unpack_nibbles(qweight)
    n, k = codes.shape
    s = _fp8_to_float(scales) * torch.as_tensor(global_scale, device=codes.device).float()
    v = decode_e2m1(codes).reshape(n, k // 16, 16) * s[..., None]
    return v.reshape(n, k).t().contiguous()


def quantize_mxfp4(w: torch.Tensor) -> QuantizedWeight:
    """MXFP4: e2m1 codes with one e8m0 (power of two) scale per 32 values along K."""
    k, n, g = _check_w(w, 32, 32)
    wt = w.float().t().reshape(n, k // 32, 32)
    amax = wt.abs().amax(dim=2).double()
    e = torch.where(
        amax > 0, torch.floor(torch.log2(amax.clamp_min(1e-300))) - 2, torch.full_like(amax, -127)
    ).clamp(-127, 127)
    scale = torch.exp2(e).float()
    x = torch.where(scale[..., None] > 0, wt / scale[..., None], torch.zeros_like(wt))
    codes = encode_e2m1(x)
    w_ref = (decode_e2m1(codes) * scale[..., None]).reshape(n, k).t().contiguous()
    tensors = {
        "qweight": pack_nibbles(codes.reshape(n, k)),
        "scales": (e + 127).to(torch.uint8),
    }
    return QuantizedWeight("mxfp4", tensors, w_ref, 32, 4)


def dequantize_mxfp4(qweight, scales) -> torch.Tensor:
    codes = unpack_nibbles(qweight)
    n, k = codes.shape
    s = decode_e8m0(scales)
    v = decode_e2m1(codes).reshape(n, k // 32, 32) * s[..., None]
    return v.reshape(n, k).t().contiguous()


QUANTIZERS = {
    "gptq": quantize_gptq,
    "awq": quantize_awq,
    "hqq": quantize_hqq,
    "fp8": quantize_fp8,
    "nvfp4": quantize_nvfp4,
    "mxfp4": quantize_mxfp4,
}


def dequantize(q: QuantizedWeight) -> torch.Tensor:
    """Rebuilds w_ref [K, N] float32 from the checkpoint tensors of `q`."""
    t = q.tensors
    if q.format == "gptq":
        return dequantize_gptq(
            t["qweight"],
            t["scales"],
            t.get("g_idx"),
            t.get("bits", 4),
            t.get("qzeros"),
            t.get("zero_offset", 1),
        )
    if q.format == "awq":
        return dequantize_awq(t["qweight"], t["qzeros"], t["scales"])
    if q.format == "hqq":
        return dequantize_hqq(t["qweight"], t["scales"], t["zeros"], q.group_size)
    if q.format == "fp8":
        return dequantize_fp8(t["qweight"], t["scales"])
    if q.format == "nvfp4":
        return dequantize_nvfp4(t["qweight"], t["scales"], t["global_scale"])
    if q.format == "mxfp4":
        return dequantize_mxfp4(t["qweight"], t["scales"])
    raise ValueError(f"unknown format {q.format!r}")


# ---------------------------------------------------------------------------------------------
# activations (per-token)


def quantize_activation_int8(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a [M, K] -> (int8 [M, K], float32 a_scales [M]) with a ~= a_q * a_scales[:, None]."""
    a32 = a.float()
    s = _safe_scale(a32.abs().amax(dim=1), 127.0)
    q = torch.round(a32 / s[:, None]).clamp(-128, 127).to(torch.int8)
    return q, s.contiguous()


def quantize_activation_fp8(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a [M, K] -> (float8_e4m3fn [M, K], float32 a_scales [M])."""
    a32 = a.float()
    s = _safe_scale(a32.abs().amax(dim=1), FP8_E4M3_MAX)
    q = (a32 / s[:, None]).clamp(-FP8_E4M3_MAX, FP8_E4M3_MAX).to(torch.float8_e4m3fn)
    return q, s.contiguous()


def dequantize_activation(a_q: torch.Tensor, a_scales: torch.Tensor) -> torch.Tensor:
    return a_q.float() * a_scales.float()[:, None]


# ---------------------------------------------------------------------------------------------
# PreparedWeights -> float weights (the kernel's semantics, design.md section 9)


def dequantize_prepared(w) -> torch.Tensor:
    """W [K, N] float32 as the kernel sees it, in the prepared row order (sorted for act-order)."""
    from marlin import scalar_types as st

    k, n = w.size_k, w.size_n
    bits = w.b_type.size_bits
    codes = unpack_marlin_v2(w.b_q_weight, bits, k, n)
    if w.b_type == st.kFE4M3fn:
        vals = codes.to(torch.uint8).view(torch.float8_e4m3fn).float()
    elif w.b_type == st.kFE2M1f:
        vals = decode_e2m1(codes)
    else:
        vals = (codes - w.b_type.bias).float()
    scales = decode_e8m0(w.scales) if w.s_type == st.kFE8M0fnu else w.scales.float()
    if w.g_idx is not None:
        rows = w.g_idx.to(torch.int64)
    elif w.num_groups == 1:
        rows = torch.zeros(k, dtype=torch.int64, device=codes.device)
    else:
        rows = torch.arange(k, device=codes.device) // w.group_size
    if w.zeros is not None:
        z = w.zeros.float() if w.is_zp_float else unpack_along(w.zeros, 1, bits).float()
        vals = vals - z[rows]
    if w.global_scale is not None:
        scales = scales * w.global_scale.float().reshape(())
    return vals * scales[rows]


def reference_gemm(a, w, a_scales=None, bias=None, dtype=torch.float64) -> torch.Tensor:
    """C = (a_scales *) A[:, perm] @ dequantize_prepared(w) (+ bias), computed in `dtype`."""
    a = a.to(dtype)
    if w.perm is not None:
        a = a[:, w.perm.to(torch.int64)]
    c = a @ dequantize_prepared(w).to(device=a.device, dtype=dtype)
    if a_scales is not None:
        c = c * a_scales.to(dtype)[:, None]
    if bias is not None:
        c = c + bias.to(dtype)
    return c
