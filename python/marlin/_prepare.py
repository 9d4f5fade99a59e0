"""marlin.prepare_weights: checkpoint tensors -> PreparedWeights (layout v1, design.md section 9).

Weights are repacked by libmarlin's `marlin_pack_weights` / `marlin_pack_zero_points` on the GPU
(`packer="library"`, the default), or by the torch reference packer of `marlin.quant` on any
device (`packer="reference"`, for tests and for preparing on the host). Scales and zero points are
transposed and converted with torch ops on their own device.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from marlin import _lib
from marlin import scalar_types as st
from marlin._tensors import describe
from marlin._tensors import is_torch_tensor
from marlin._tensors import require_cuda
from marlin._tensors import same_device

FORMATS = ("gptq", "awq", "hqq", "fp8", "nvfp4", "mxfp4")
ACTIVATIONS = (None, "int8", "fp8")

# marlin_code_source of each checkpoint layout: (word_bits, code_bits, packed_along_k, n_major,
# awq_order), design.md section 10.
SRC_GPTQ4 = (32, 4, 1, 0, 0)
SRC_GPTQ8 = (32, 8, 1, 0, 0)
SRC_AWQ = (32, 4, 0, 0, 1)
SRC_FP8 = (8, 8, 1, 1, 0)
SRC_FP4 = (8, 4, 1, 1, 0)  # also HQQ nibbles [N, K/2]

# Which activations each format supports (design.md section 2).
_FORMAT_ACTIVATIONS = {
    "gptq": (None, "int8", "fp8"),
    "awq": (None, "int8", "fp8"),
    "hqq": (None,),
    "fp8": (None,),
    "nvfp4": (None,),
    "mxfp4": (None, "fp8"),
}


@dataclasses.dataclass
class PreparedWeights:
    """Weights in rules_marlin layout v1, ready for `marlin.gemm`.

    b_q_weight: int32 [K/16, N*16/pack]; scales: [num_groups, N] (s_type); zeros: None, int32
    [num_groups, N/pack] or float [num_groups, N] (is_zp_float); g_idx (sorted) and perm: None or
    int32 [K] (act-order); global_scale: None or float32 [1] (NVFP4). group_size: -1 channelwise,
    else the group size in rows of K. activation: None (16-bit a), "int8" or "fp8".
    """

    b_q_weight: Any
    scales: Any
    zeros: Any
    g_idx: Any
    perm: Any
    b_type: st.ScalarType
    s_type: st.ScalarType
    group_size: int
    num_groups: int
    size_k: int
    size_n: int
    is_zp_float: bool = False
    global_scale: Any = None
    format: str = ""
    activation: str | None = None

    @property
    def has_act_order(self) -> bool:
        return self.perm is not None

    @property
    def bits(self) -> int:
        return self.b_type.size_bits

    @property
    def pack_factor(self) -> int:
        return 32 // self.bits

    @property
    def scheme(self) -> str:
        """Scheme name of design.md section 2 (e.g. "gptq_int4", "awq_int4_a_fp8")."""
        base = {
            "gptq": f"gptq_int{self.bits}",
            "awq": "awq_int4",
            "hqq": "hqq_int4",
            "fp8": "fp8",
            "nvfp4": "nvfp4",
            "mxfp4": "mxfp4",
        }.get(self.format, self.format)
        return base if self.activation is None else f"{base}_a_{self.activation}"

    def to(self, device) -> PreparedWeights:
        """A copy with every tensor moved to `device` (torch tensors only)."""

        def mv(x):
            return x.to(device) if x is not None else None

        return dataclasses.replace(
            self,
            b_q_weight=mv(self.b_q_weight),
            scales=mv(self.scales),
            zeros=mv(self.zeros),
            g_idx=mv(self.g_idx),
            perm=mv(self.perm),
            global_scale=mv(self.global_scale),
        )


# ---------------------------------------------------------------------------------------------
# packers


class _LibraryPacker:
    """marlin_pack_weights / marlin_pack_zero_points on the tensors' GPU, current torch stream."""

    def __init__(self, torch):
        self.torch = torch

    def _stream(self, device):
        return self.torch.cuda.current_stream(device).cuda_stream

    def weights(self, data, src, perm, size_k, size_n):
        torch = self.torch
        bits = src[1]
        data = data.contiguous()
        out = torch.empty(
            (size_k // 16, size_n * 16 // (32 // bits)), dtype=torch.int32, device=data.device
        )
        perm_ptr = perm.data_ptr() if perm is not None else 0
        _lib.pack_weights(
            _code_source(data.data_ptr(), src),
            perm_ptr,
            size_k,
            size_n,
            out.data_ptr(),
            self._stream(data.device),
        )
        return out

    def zero_points(self, data, src, num_groups, size_n):
        torch = self.torch
        bits = src[1]
        data = data.contiguous()
        out = torch.empty(
            (num_groups, size_n // (32 // bits)), dtype=torch.int32, device=data.device
        )
        _lib.pack_zero_points(
            _code_source(data.data_ptr(), src),
            num_groups,
            size_n,
            out.data_ptr(),
            self._stream(data.device),
        )
        return out


class _ReferencePacker:
    """The torch reference of the library packers (any device)."""

    def weights(self, data, src, perm, size_k, size_n):
        from marlin import quant

        return quant.reference_pack_weights(data, *src, perm, size_k, size_n)

    def zero_points(self, data, src, num_groups, size_n):
        from marlin import quant

        return quant.reference_pack_zero_points(data, *src, num_groups, size_n)


def _code_source(ptr: int, src) -> _lib.CodeSource:
    word_bits, code_bits, along_k, n_major, awq = src
    return _lib.CodeSource(
        struct_size=0,
        data=ptr,
        word_bits=word_bits,
        code_bits=code_bits,
        packed_along_k=along_k,
        n_major=n_major,
        awq_order=awq,
    )


# ---------------------------------------------------------------------------------------------
# helpers


def _import_torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "marlin.prepare_weights needs torch (scales and zero points are converted with torch "
            "ops); install torch or prepare the weights elsewhere"
        ) from e
    return torch


def _to_torch(torch, x, name: str, need_cuda: bool):
    """A torch tensor for x (torch / DLPack / CUDA array interface), checking the device first."""
    if x is None:
        return None
    if isinstance(x, (int, float)) and name == "global_scale":
        return x
    info = describe(x, name)
    if need_cuda:
        require_cuda(info)
    if is_torch_tensor(x):
        return x
    if info.kind == "cai":
        return torch.as_tensor(x, device="cuda")
    return torch.from_dlpack(x)


def _dtype_name(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def _expect_dtype(t, name: str, allowed) -> None:
    got = _dtype_name(t)
    if got not in allowed:
        raise TypeError(
            f"{name} has dtype {got}; expected "
            + (allowed[0] if len(allowed) == 1 else "one of " + ", ".join(allowed))
        )


def _expect_ndim(t, name: str, ndim: int, what: str) -> None:
    if t.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {what}; got shape {list(t.shape)}")


def _expect_shape(t, name: str, shape, what: str = "") -> None:
    if tuple(t.shape) != tuple(shape):
        extra = f" ({what})" if what else ""
        raise ValueError(f"{name} has shape {list(t.shape)}; expected {list(shape)}{extra}")


def _resolve_dtype(torch, dtype, scales):
    names = {
        "float16": torch.float16,
        "f16": torch.float16,
        "half": torch.float16,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
    }
    if dtype is None:
        if scales is not None and scales.dtype in (torch.float16, torch.bfloat16):
            return scales.dtype
        return torch.float16
    if isinstance(dtype, str):
        if dtype not in names:
            raise ValueError(
                f"dtype {dtype!r} is not a 16-bit output type; use float16 or bfloat16"
            )
        return names[dtype]
    if dtype not in (torch.float16, torch.bfloat16):
        raise TypeError(f"dtype must be torch.float16 or torch.bfloat16; got {dtype}")
    return dtype


def _s_type_of(torch, dtype) -> st.ScalarType:
    return st.kFloat16 if dtype == torch.float16 else st.kBFloat16


def _check_sizes(size_k: int, size_n: int, origin: str) -> None:
    if size_k <= 0 or size_k % 16:
        raise ValueError(f"size_k={size_k} (from {origin}) must be a positive multiple of 16")
    if size_n <= 0 or size_n % 64:
        raise ValueError(f"size_n={size_n} (from {origin}) must be a positive multiple of 64")


def _groups(size_k: int, num_groups: int, name: str) -> int:
    if num_groups <= 0 or size_k % num_groups:
        raise ValueError(f"{name}: {num_groups} groups do not divide size_k={size_k}")
    return -1 if num_groups == 1 else size_k // num_groups


def _t(torch, x, dtype=None):
    """[R, C] -> contiguous [C, R] (byte-wise for 8-bit float types), optionally converted."""
    if dtype is not None:
        x = x.to(dtype)
    if x.element_size() == 1 and x.dtype != torch.uint8:
        return x.view(torch.uint8).t().contiguous().view(x.dtype)
    return x.t().contiguous()


# ---------------------------------------------------------------------------------------------
# formats


def _prepare_gptq(torch, p, packer):
    qweight, scales, g_idx = p["qweight"], p["scales"], p["g_idx"]
    bits = 4 if p["bits"] is None else int(p["bits"])
    if bits not in (4, 8):
        raise ValueError(f"bits={bits} for gptq; expected 4 or 8")
    if qweight is None or scales is None:
        raise ValueError("gptq needs qweight (int32 [K/pack, N]) and scales ([G, N])")
    _expect_dtype(qweight, "qweight", ("int32",))
    _expect_ndim(qweight, "qweight", 2, f"[K/{32 // bits}, N] (GPTQ, packed along K)")
    size_k, size_n = qweight.shape[0] * (32 // bits), qweight.shape[1]
    _check_sizes(size_k, size_n, "qweight")
    _expect_dtype(scales, "scales", ("float16", "bfloat16", "float32"))
    _expect_ndim(scales, "scales", 2, "[num_groups, N]")
    if scales.shape[1] != size_n:
        raise ValueError(f"scales has shape {list(scales.shape)}; expected [num_groups, {size_n}]")
    num_groups = scales.shape[0]
    group_size = _groups(size_k, num_groups, "scales")
    activation = p["activation"]
    perm = g_sorted = None
    act_order = p["act_order"]
    if g_idx is not None:
        _expect_dtype(g_idx, "g_idx", ("int32", "int64", "int16"))
        _expect_shape(g_idx, "g_idx", (size_k,), "one group index per row of K")
        g64 = g_idx.to(torch.int64)
        trivial = torch.arange(size_k, device=g64.device) // (size_k // num_groups)
        if act_order is None:
            act_order = not bool(torch.equal(g64, trivial))
        if act_order and num_groups > 1:
            lo, hi = int(g64.min()), int(g64.max())
            if lo < 0 or hi >= num_groups:
                raise ValueError(f"g_idx values must lie in [0, {num_groups}); got [{lo}, {hi}]")
            counts = torch.bincount(g64, minlength=num_groups)
            if not bool((counts == size_k // num_groups).all()):
                raise ValueError(
                    f"g_idx: every group must hold exactly size_k/num_groups = "
                    f"{size_k // num_groups} rows"
                )
            perm = torch.argsort(g64, stable=True)
            g_sorted = g64[perm].to(torch.int32).contiguous()
            perm = perm.to(torch.int32).contiguous()
    elif act_order:
        raise ValueError("act_order=True needs g_idx")
    if activation is not None:
        if bits != 4:
            raise ValueError(f"activation={activation!r} needs 4-bit gptq weights; got bits={bits}")
        if perm is not None:
            raise ValueError(
                f"activation={activation!r} does not support act-order (g_idx); 8-bit activation "
                "schemes have no act-order kernels"
            )
    dtype = _resolve_dtype(torch, p["dtype"], scales)
    b = packer.weights(qweight, SRC_GPTQ4 if bits == 4 else SRC_GPTQ8, perm, size_k, size_n)
    return PreparedWeights(
        b_q_weight=b,
        scales=scales.to(dtype).contiguous(),
        zeros=None,
        g_idx=g_sorted,
        perm=perm,
        b_type=st.kU4B8 if bits == 4 else st.kU8B128,
        s_type=_s_type_of(torch, dtype),
        group_size=group_size,
        num_groups=num_groups,
        size_k=size_k,
        size_n=size_n,
        format="gptq",
        activation=activation,
    )


def _prepare_awq(torch, p, packer):
    qweight, qzeros, scales = p["qweight"], p["qzeros"], p["scales"]
    if p["bits"] not in (None, 4):
        raise ValueError(f"bits={p['bits']} for awq; only 4-bit AWQ is supported")
    if qweight is None or qzeros is None or scales is None:
        raise ValueError("awq needs qweight (int32 [K, N/8]), qzeros (int32 [G, N/8]), scales")
    _expect_dtype(qweight, "qweight", ("int32",))
    _expect_ndim(qweight, "qweight", 2, "[K, N/8] (AWQ, packed along N)")
    size_k, size_n = qweight.shape[0], qweight.shape[1] * 8
    _check_sizes(size_k, size_n, "qweight")
    _expect_dtype(scales, "scales", ("float16", "bfloat16", "float32"))
    _expect_ndim(scales, "scales", 2, "[num_groups, N]")
    if scales.shape[1] != size_n:
        raise ValueError(f"scales has shape {list(scales.shape)}; expected [num_groups, {size_n}]")
    num_groups = scales.shape[0]
    group_size = _groups(size_k, num_groups, "scales")
    _expect_dtype(qzeros, "qzeros", ("int32",))
    _expect_shape(qzeros, "qzeros", (num_groups, size_n // 8), "[num_groups, N/8]")
    if p["g_idx"] is not None or p["act_order"]:
        raise ValueError("awq has no act-order: g_idx is not accepted")
    dtype = _resolve_dtype(torch, p["dtype"], scales)
    b = packer.weights(qweight, SRC_AWQ, None, size_k, size_n)
    zeros = packer.zero_points(qzeros, SRC_AWQ, num_groups, size_n)
    return PreparedWeights(
        b_q_weight=b,
        scales=scales.to(dtype).contiguous(),
        zeros=zeros,
        g_idx=None,
        perm=None,
        b_type=st.kU4,
        s_type=_s_type_of(torch, dtype),
        group_size=group_size,
        num_groups=num_groups,
        size_k=size_k,
        size_n=size_n,
        format="awq",
        activation=p["activation"],
    )


def _prepare_hqq(torch, p, packer):
    qweight, scales, zeros = p["qweight"], p["scales"], p["zeros"]
    if qweight is None or scales is None or zeros is None:
        raise ValueError("hqq needs qweight (uint8 [N, K] or [N, K/2]), scales and zeros [N, G]")
    group_size = 64 if p["group_size"] is None else int(p["group_size"])
    _expect_ndim(qweight, "qweight", 2, "[N, K] codes or [N, K/2] packed nibbles")
    _expect_ndim(scales, "scales", 2, "[N, num_groups]")
    size_n, num_groups = scales.shape
    size_k = num_groups * group_size
    if qweight.shape[0] != size_n:
        raise ValueError(f"qweight has shape {list(qweight.shape)} but scales say N={size_n}")
    _check_sizes(size_k, size_n, "scales and group_size")
    _expect_dtype(scales, "scales", ("float16", "bfloat16", "float32"))
    _expect_dtype(zeros, "zeros", ("float16", "bfloat16", "float32"))
    _expect_shape(zeros, "zeros", (size_n, num_groups), "[N, num_groups], float zero points")
    if qweight.shape[1] == size_k:  # one code per element
        _expect_dtype(qweight, "qweight", ("uint8", "int8", "int16", "int32", "int64"))
        q = qweight.to(torch.int64)
        packed = ((q[:, 0::2] & 0xF) | ((q[:, 1::2] & 0xF) << 4)).to(torch.uint8)
    elif qweight.shape[1] * 2 == size_k:
        _expect_dtype(qweight, "qweight", ("uint8",))
        packed = qweight
    else:
        raise ValueError(
            f"qweight has shape {list(qweight.shape)}; expected [{size_n}, {size_k}] (codes) or "
            f"[{size_n}, {size_k // 2}] (packed) for group_size={group_size}"
        )
    dtype = _resolve_dtype(torch, p["dtype"] or "float16", None)
    b = packer.weights(packed, SRC_FP4, None, size_k, size_n)
    return PreparedWeights(
        b_q_weight=b,
        scales=_t(torch, scales, dtype),
        zeros=_t(torch, zeros, dtype),
        g_idx=None,
        perm=None,
        b_type=st.kU4,
        s_type=_s_type_of(torch, dtype),
        group_size=_groups(size_k, num_groups, "scales"),
        num_groups=num_groups,
        size_k=size_k,
        size_n=size_n,
        is_zp_float=True,
        format="hqq",
        activation=None,
    )


def _prepare_fp8(torch, p, packer):
    qweight, scales = p["qweight"], p["scales"]
    if qweight is None or scales is None:
        raise ValueError("fp8 needs qweight (float8_e4m3fn [N, K]) and scales ([N] or [N, K/g])")
    _expect_dtype(qweight, "qweight", ("float8_e4m3fn", "uint8"))
    _expect_ndim(qweight, "qweight", 2, "[N, K] (checkpoint [out, in])")
    size_n, size_k = qweight.shape
    _check_sizes(size_k, size_n, "qweight")
    _expect_dtype(scales, "scales", ("float16", "bfloat16", "float32"))
    if scales.numel() == 1:  # per-tensor: expand to channelwise
        s2 = scales.reshape(1, 1).expand(size_n, 1)
    elif scales.ndim == 1:
        _expect_shape(scales, "scales", (size_n,), "per-channel")
        s2 = scales.reshape(size_n, 1)
    elif scales.ndim == 2 and scales.shape[0] == size_n:
        s2 = scales
    else:
        raise ValueError(
            f"scales has shape {list(scales.shape)}; expected [{size_n}] (per channel) or "
            f"[{size_n}, K/group_size] (per group)"
        )
    num_groups = s2.shape[1]
    group_size = _groups(size_k, num_groups, "scales")
    dtype = _resolve_dtype(torch, p["dtype"], scales)
    b = packer.weights(qweight.view(torch.uint8), SRC_FP8, None, size_k, size_n)
    return PreparedWeights(
        b_q_weight=b,
        scales=_t(torch, s2, dtype),
        zeros=None,
        g_idx=None,
        perm=None,
        b_type=st.kFE4M3fn,
        s_type=_s_type_of(torch, dtype),
        group_size=group_size,
        num_groups=num_groups,
        size_k=size_k,
        size_n=size_n,
        format="fp8",
        activation=None,
    )


def _prepare_fp4(torch, p, packer, fmt: str):
    qweight, scales = p["qweight"], p["scales"]
    group = 16 if fmt == "nvfp4" else 32
    if qweight is None or scales is None:
        raise ValueError(f"{fmt} needs qweight (uint8 [N, K/2]) and scales ([N, K/{group}])")
    if _dtype_name(qweight) == "float4_e2m1fn_x2":
        qweight = qweight.view(torch.uint8)
    _expect_dtype(qweight, "qweight", ("uint8",))
    _expect_ndim(qweight, "qweight", 2, "[N, K/2] (two e2m1 codes per byte)")
    size_n, size_k = qweight.shape[0], qweight.shape[1] * 2
    _check_sizes(size_k, size_n, "qweight")
    if size_k % group:
        raise ValueError(f"size_k={size_k} must be a multiple of the {fmt} group size {group}")
    num_groups = size_k // group
    if fmt == "nvfp4":
        _expect_dtype(scales, "scales", ("float8_e4m3fn", "uint8"))
        s_type = st.kFE4M3fn
        s_dtype = torch.float8_e4m3fn
    else:
        _expect_dtype(scales, "scales", ("uint8", "float8_e8m0fnu"))
        s_type = st.kFE8M0fnu
        s_dtype = torch.uint8
    _expect_shape(scales, "scales", (size_n, num_groups), f"[N, K/{group}]")
    global_scale = None
    if fmt == "nvfp4":
        gs = p["global_scale"]
        if gs is None:
            raise ValueError("nvfp4 needs global_scale (one float multiplying every weight)")
        if isinstance(gs, (int, float)):
            global_scale = torch.tensor([float(gs)], dtype=torch.float32, device=qweight.device)
        else:
            if gs.numel() != 1:
                raise ValueError(f"global_scale must hold one value; got shape {list(gs.shape)}")
            global_scale = gs.reshape(1).to(device=qweight.device, dtype=torch.float32)
            global_scale = global_scale.contiguous()
    elif p["global_scale"] is not None:
        raise ValueError("global_scale is only for nvfp4")
    b = packer.weights(qweight, SRC_FP4, None, size_k, size_n)
    return PreparedWeights(
        b_q_weight=b,
        scales=_t(torch, scales.view(torch.uint8)).view(s_dtype),
        zeros=None,
        g_idx=None,
        perm=None,
        b_type=st.kFE2M1f,
        s_type=s_type,
        group_size=group,
        num_groups=num_groups,
        size_k=size_k,
        size_n=size_n,
        global_scale=global_scale,
        format=fmt,
        activation=p["activation"],
    )


def prepare_weights(
    format: str,
    *,
    qweight=None,
    scales=None,
    qzeros=None,
    zeros=None,
    g_idx=None,
    global_scale=None,
    bits: int | None = None,
    group_size: int | None = None,
    act_order: bool | None = None,
    activation: str | None = None,
    dtype=None,
    weight=None,
    stream=None,
    packer: str = "library",
) -> PreparedWeights:
    """Converts checkpoint tensors of `format` into PreparedWeights for `marlin.gemm`.

    Formats (see marlin.quant for the exact layouts):
      "gptq":  qweight int32 [K/pack, N], scales [G, N], optional g_idx [K], bits=4|8.
               A g_idx that is not the trivial k // group_size turns on act-order
               (perm = argsort(g_idx), g_idx sorted); act_order=False/True forces it.
      "awq":   qweight int32 [K, N/8], qzeros int32 [G, N/8] (AWQ order), scales [G, N].
      "hqq":   qweight uint8 [N, K] codes or [N, K/2] nibbles, scales/zeros [N, G] float,
               group_size (default 64).
      "fp8":   qweight (or weight) float8_e4m3fn [N, K], scales [N] / [N, K/g] (or one value).
      "nvfp4": qweight uint8 [N, K/2], scales float8_e4m3fn [N, K/16], global_scale.
      "mxfp4": qweight uint8 [N, K/2], scales uint8/float8_e8m0fnu e8m0 [N, K/32].
    activation: None (16-bit a), "int8" or "fp8" (gptq int4 / awq; fp8 also mxfp4).
    dtype: the 16-bit output/scale type (float16 or bfloat16) for formats whose scales are in
    the output type (default: the dtype of 16-bit scales, else float16; hqq: float16).
    stream: a torch.cuda.Stream (or a raw cudaStream_t int) to pack on; default the current one.
    packer: "library" (libmarlin on the GPU) or "reference" (torch, any device, no library).
    """
    if format not in FORMATS:
        raise ValueError(f"format {format!r} is not supported; valid: {', '.join(FORMATS)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} is not valid; use None, 'int8' or 'fp8'")
    if activation not in _FORMAT_ACTIVATIONS[format]:
        valid = ", ".join(repr(a) for a in _FORMAT_ACTIVATIONS[format])
        raise ValueError(f"activation={activation!r} is not supported for {format}; valid: {valid}")
    if packer not in ("library", "reference"):
        raise ValueError(f"packer {packer!r} is not valid; use 'library' or 'reference'")
    if weight is not None:
        if qweight is not None:
            raise ValueError("pass either qweight or weight, not both")
        qweight = weight
    need_cuda = packer == "library"
    # Device checks first (describe() needs no torch and touches no GPU).
    raw = {
        "qweight": qweight,
        "scales": scales,
        "qzeros": qzeros,
        "zeros": zeros,
        "g_idx": g_idx,
        "global_scale": global_scale,
    }
    infos = []
    for name, x in raw.items():
        if x is None or (name == "global_scale" and isinstance(x, (int, float))):
            continue
        info = describe(x, name)
        if need_cuda:
            require_cuda(info)
        infos.append(info)
    if need_cuda:
        same_device(infos)
    torch = _import_torch()
    p = {name: _to_torch(torch, x, name, need_cuda) for name, x in raw.items()}
    p.update(bits=bits, group_size=group_size, act_order=act_order, activation=activation)
    p["dtype"] = dtype
    if format != "hqq" and group_size is not None:
        raise ValueError(f"group_size is derived from the scales' shape for {format}; omit it")
    if format not in ("gptq", "awq") and bits not in (None, 4 if format != "fp8" else 8):
        raise ValueError(f"bits={bits} does not apply to {format}")

    impl = _LibraryPacker(torch) if need_cuda else _ReferencePacker()
    device = p["qweight"].device if p["qweight"] is not None else None
    guard = contextlib.nullcontext()
    stream_ctx = contextlib.nullcontext()
    if need_cuda and device is not None:
        guard = torch.cuda.device(device)
        if stream is not None:
            if isinstance(stream, int):
                stream = torch.cuda.ExternalStream(stream, device=device)
            stream_ctx = torch.cuda.stream(stream)
    with guard, stream_ctx:
        if format == "gptq":
            return _prepare_gptq(torch, p, impl)
        if format == "awq":
            return _prepare_awq(torch, p, impl)
        if format == "hqq":
            return _prepare_hqq(torch, p, impl)
        if format == "fp8":
            return _prepare_fp8(torch, p, impl)
        return _prepare_fp4(torch, p, impl, format)
