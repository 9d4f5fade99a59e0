"""marlin.prepare_weights: checkpoint tensors -> PreparedWeights (layout v1, design.md section 9).

Weights are repacked by libmarlin's `marlin_pack_weights` / `marlin_pack_zero_points` on the GPU
(`packer="library"`, the default), or by the torch reference packer of `marlin.quant` on any
device (`packer="reference"`, for tests and for preparing on the host). Scales and zero points are
transposed and converted with torch ops on their own device.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any

from marlin import _lib
from marlin import scalar_types as st
from marlin._tensors import CUDA_DEVICE_TYPES
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
SRC_GPTQ_ZP4 = (32, 4, 0, 0, 0)  # GPTQ qzeros int32 [G, N/8], packed along N, LSB first

# The tensors each format reads; any other tensor passed is an error (never dropped silently).
_FORMAT_TENSORS = {
    "gptq": ("qweight", "scales", "qzeros", "g_idx"),
    "awq": ("qweight", "qzeros", "scales"),
    "hqq": ("qweight", "scales", "zeros"),
    "fp8": ("qweight", "scales"),
    "nvfp4": ("qweight", "scales", "global_scale"),
    "mxfp4": ("qweight", "scales"),
}
_TENSOR_HINTS = {
    ("gptq", "zeros"): " (GPTQ zero points are qzeros, int32 [G, N/pack])",
    ("awq", "zeros"): " (AWQ zero points are qzeros, int32 [G, N/8])",
    ("awq", "g_idx"): " (awq has no act-order)",
    ("hqq", "qzeros"): " (HQQ zero points are float: zeros [N, G])",
    ("mxfp4", "global_scale"): " (global_scale is only for nvfp4)",
}

# Which activations each format supports (design.md section 2).
_FORMAT_ACTIVATIONS = {
    "gptq": (None, "int8", "fp8"),
    "awq": (None, "int8", "fp8"),
    "hqq": (None,),
    "fp8": (None,),
    "nvfp4": (None,),
    "mxfp4": (None, "fp8"),
}


def _scheme_name(fmt: str, b_type: st.ScalarType, activation: str | None) -> str:
    base = {
        # asymmetric GPTQ (qzeros) runs on the int zero-point kernels of awq_int4
        "gptq": "awq_int4" if b_type == st.kU4 else f"gptq_int{b_type.size_bits}",
        "awq": "awq_int4",
        "hqq": "hqq_int4",
        "fp8": "fp8",
        "nvfp4": "nvfp4",
        "mxfp4": "mxfp4",
    }.get(fmt, fmt)
    return base if activation is None else f"{base}_a_{activation}"


_GEMM_PLAN = "_gemm_plan"


@dataclasses.dataclass
class PreparedWeights:
    """Weights in rules_marlin layout v1, ready for `marlin.gemm`.

    b_q_weight: int32 [K/16, N*16/pack]; scales: [num_groups, N] (s_type); zeros: None, int32
    [num_groups, N/pack] or float [num_groups, N] (is_zp_float); g_idx (sorted) and perm: None or
    int32 [K] (act-order); global_scale: None or float32 [1] (NVFP4). group_size: -1 channelwise,
    0 for an act-order K shard (rows grouped by g_idx only; is_k_full False), else the group size
    in rows of K. activation: None (16-bit a), "int8" or "fp8".
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
    is_k_full: bool = True  # False: an act-order K shard (group_size 0, scales by g_idx only)

    # marlin.gemm checks and describes the weights once and keeps the result in __dict__
    # (_GEMM_PLAN, not a field; it notices fields assigned since). Pickles and copies never carry
    # it: a deep copy's tensors are new memory.
    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop(_GEMM_PLAN, None)
        return state

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
        return _scheme_name(self.format, self.b_type, self.activation)

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
        from marlin import _packing  # needs torch: imported only when used

        return _packing.reference_pack_weights(data, *src, perm, size_k, size_n)

    def zero_points(self, data, src, num_groups, size_n):
        from marlin import _packing

        return _packing.reference_pack_zero_points(data, *src, num_groups, size_n)


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
    info = describe(x, name, allow_host=not need_cuda)
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
    if not isinstance(dtype, (str, torch.dtype)):
        raise TypeError(
            f"dtype must be 'float16', 'bfloat16' or a torch dtype; got {type(dtype).__qualname__}"
        )
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


def _group_text(group_blocks: int) -> str:
    if group_blocks == -1:
        return "channelwise (one group)"
    if group_blocks == 0:
        return "act-order K shards (rows grouped by g_idx)"
    return str(16 * group_blocks)


def _check_group_size(scheme: str, group_blocks: int | None, what: str) -> None:
    """Refuses a grouping no kernel of `scheme` is built for (design.md section 2)."""
    sch = st.SCHEMES_BY_NAME.get(scheme)
    if sch is None or group_blocks in sch.group_blocks:
        return
    valid = ", ".join(_group_text(g) for g in sch.group_blocks)
    raise ValueError(
        f"{what}: scheme {scheme} has kernels for group sizes {valid} only "
        f"(the {st.PRESET} preset's scheme table)"
    )


def _group_blocks_of(group_size: int) -> int | None:
    """The kernel's group_blocks of a group size in rows (None when it has none)."""
    if group_size == -1:
        return -1
    return group_size // 16 if group_size > 0 and group_size % 16 == 0 else None


def _check_finite(torch, t, name: str, kind: str = "float") -> None:
    """Refuses NaN / inf values (they would turn whole output columns into NaN)."""
    if kind == "e8m0":
        bad = t.view(torch.uint8) == 255  # e8m0's NaN
        what = "NaN (e8m0 code 255)"
    else:
        x = t.view(torch.float8_e4m3fn) if t.dtype == torch.uint8 else t
        bad = ~torch.isfinite(x.float())
        what = "NaN or inf"
    count = int(bad.sum())
    if count:
        first = [int(i) for i in torch.nonzero(bad.reshape(bad.shape or (1,)))[0]]
        raise ValueError(
            f"{name} holds {count} {what} value(s), the first at index {first}: marlin.gemm would "
            "turn them into NaN outputs. Fix the checkpoint, or pass check_finite=False to keep "
            "them"
        )


def _offset_codes(torch, words, bits: int, offset: int):
    """Packed `bits`-bit codes (LSB first) -> (repacked (code + offset) mod 2^bits, those codes)."""
    mask = (1 << bits) - 1
    cpw = 32 // bits
    shifts = torch.arange(cpw, device=words.device, dtype=torch.int64) * bits
    w = words.to(torch.int64) & 0xFFFFFFFF
    codes = (w.unsqueeze(-1) >> shifts) & mask  # [..., words, cpw]
    codes = (codes + offset) & mask
    packed = (codes << shifts).sum(-1)
    packed = torch.where(packed >= 2**31, packed - 2**32, packed).to(torch.int32)
    return packed.contiguous(), codes.reshape(*words.shape[:-1], words.shape[-1] * cpw)


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
    qweight, scales, g_idx, qzeros = p["qweight"], p["scales"], p["g_idx"], p["qzeros"]
    bits = 4 if p["bits"] is None else int(p["bits"])
    if bits not in (4, 8):
        raise ValueError(f"bits={bits} for gptq; expected 4 or 8")
    if qweight is None or scales is None:
        raise ValueError("gptq needs qweight (int32 [K/pack, N]) and scales ([G, N])")
    pack = 32 // bits
    _expect_dtype(qweight, "qweight", ("int32",))
    _expect_ndim(qweight, "qweight", 2, f"[K/{pack}, N] (GPTQ, packed along K)")
    size_k, size_n = qweight.shape[0] * pack, qweight.shape[1]
    _check_sizes(size_k, size_n, "qweight")
    _expect_dtype(scales, "scales", ("float16", "bfloat16", "float32"))
    _expect_ndim(scales, "scales", 2, "[num_groups, N]")
    if scales.shape[1] != size_n or scales.shape[0] < 1:
        raise ValueError(f"scales has shape {list(scales.shape)}; expected [num_groups, {size_n}]")
    num_groups = scales.shape[0]
    activation = p["activation"]
    act_order = p["act_order"]
    even = size_k % num_groups == 0  # contiguous groups of size_k / num_groups rows possible
    perm = g_sorted = None
    is_k_full = True
    if g_idx is not None:
        _expect_dtype(g_idx, "g_idx", ("int32", "int64", "int16"))
        _expect_shape(g_idx, "g_idx", (size_k,), "one group index per row of K")
        g64 = g_idx.to(torch.int64)
        lo, hi = int(g64.min()), int(g64.max())
        if lo < 0 or hi >= num_groups:
            raise ValueError(
                f"g_idx values must lie in [0, {num_groups}) (one per scales row); got [{lo}, {hi}]"
            )
        trivial = even and bool(
            torch.equal(g64, torch.arange(size_k, device=g64.device) // (size_k // num_groups))
        )
        if act_order is None:
            act_order = not trivial
        elif not act_order and not trivial:
            raise ValueError(
                "act_order=False but g_idx is not the trivial k // (size_k / num_groups): its "
                "rows belong to other groups; omit act_order (or pass True) to use it"
            )
        if act_order:
            counts = torch.bincount(g64, minlength=num_groups)
            # Uneven groups: a row-parallel K shard of an act-order layer (all scales kept).
            is_k_full = even and bool((counts == size_k // num_groups).all())
            perm = torch.argsort(g64, stable=True)
            g_sorted = g64[perm].to(torch.int32).contiguous()
            perm = perm.to(torch.int32).contiguous()
    elif act_order:
        raise ValueError("act_order=True needs g_idx")
    if perm is not None and not is_k_full:
        group_size, group_blocks = 0, 0
    else:
        group_size = _groups(size_k, num_groups, "scales")
        group_blocks = _group_blocks_of(group_size)
    if activation is not None:
        if bits != 4:
            raise ValueError(f"activation={activation!r} needs 4-bit gptq weights; got bits={bits}")
        if perm is not None:
            raise ValueError(
                f"activation={activation!r} does not support act-order (g_idx); 8-bit activation "
                "schemes have no act-order kernels"
            )

    # Zero points (the qzeros convention of prepare_weights' docstring): int32 [G, N/pack]
    # packed along N, LSB first, each code stored as zero - zero_offset (mod 2^bits).
    b_type = st.kU4B8 if bits == 4 else st.kU8B128
    zeros = None
    offset = 1 if p["zero_offset"] is None else p["zero_offset"]
    if qzeros is not None:
        _expect_dtype(qzeros, "qzeros", ("int32",))
        _expect_shape(qzeros, "qzeros", (num_groups, size_n // pack), f"[num_groups, N/{pack}]")
        stored_plus_offset, zp = _offset_codes(torch, qzeros, bits, offset)
        if not bool((zp == 1 << (bits - 1)).all()):  # else symmetric: the zero is the bias
            if bits == 8:
                raise ValueError(
                    "qzeros: asymmetric 8-bit GPTQ (sym=False; zero points other than 128 with "
                    f"zero_offset={offset}) needs kU8 kernels with zero points, and no scheme of "
                    f"the {st.PRESET} preset has them (zero-point schemes: awq_int4, "
                    "awq_int4_a_int8, awq_int4_a_fp8, all 4-bit)"
                )
            b_type = st.kU4
            zeros = packer.zero_points(stored_plus_offset, SRC_GPTQ_ZP4, num_groups, size_n)
    elif p["zero_offset"] is not None:
        raise ValueError("zero_offset applies to qzeros, and no qzeros were given")

    scheme = _scheme_name("gptq", b_type, activation)
    what = (
        "act-order K shard (g_idx groups of uneven size)"
        if group_blocks == 0
        else f"group size {group_size if group_size > 0 else 'channelwise'} "
        f"(size_k={size_k} / {num_groups} scales rows)"
    )
    _check_group_size(scheme, group_blocks, what)
    dtype = _resolve_dtype(torch, p["dtype"], scales)
    if p["check_finite"]:
        _check_finite(torch, scales, "scales")
    b = packer.weights(qweight, SRC_GPTQ4 if bits == 4 else SRC_GPTQ8, perm, size_k, size_n)
    return PreparedWeights(
        b_q_weight=b,
        scales=scales.to(dtype).contiguous(),
        zeros=zeros,
        g_idx=g_sorted,
        perm=perm,
        b_type=b_type,
        s_type=_s_type_of(torch, dtype),
        group_size=group_size,
        num_groups=num_groups,
        size_k=size_k,
        size_n=size_n,
        format="gptq",
        activation=activation,
        is_k_full=is_k_full,
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
    _check_group_size(
        _scheme_name("awq", st.kU4, p["activation"]),
        _group_blocks_of(group_size),
        f"group size {group_size if group_size > 0 else 'channelwise'} "
        f"(size_k={size_k} / {num_groups} scales rows)",
    )
    dtype = _resolve_dtype(torch, p["dtype"], scales)
    if p["check_finite"]:
        _check_finite(torch, scales, "scales")
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
    group_size = 64 if p["group_size"] is None else p["group_size"]
    if isinstance(group_size, bool) or not isinstance(group_size, int):
        raise TypeError(f"group_size must be an int; got {type(group_size).__qualname__}")
    _check_group_size("hqq_int4", _group_blocks_of(group_size), f"group_size={group_size}")
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
        lo, hi = int(q.min()), int(q.max())
        if lo < 0 or hi > 15:
            raise ValueError(
                f"qweight holds codes in [{lo}, {hi}]; HQQ 4-bit codes lie in 0..15 (one per "
                "element), and larger ones cannot be packed into 4 bits"
            )
        packed = ((q[:, 0::2] & 0xF) | ((q[:, 1::2] & 0xF) << 4)).to(torch.uint8)
    elif qweight.shape[1] * 2 == size_k:
        _expect_dtype(qweight, "qweight", ("uint8",))
        packed = qweight
    else:
        raise ValueError(
            f"qweight has shape {list(qweight.shape)}; expected [{size_n}, {size_k}] (codes) or "
            f"[{size_n}, {size_k // 2}] (packed) for group_size={group_size}"
        )
    dtype = _resolve_dtype(torch, "float16" if p["dtype"] is None else p["dtype"], None)
    if p["check_finite"]:
        _check_finite(torch, scales, "scales")
        _check_finite(torch, zeros, "zeros")
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
    _check_group_size(
        "fp8",
        _group_blocks_of(group_size),
        f"group size {group_size if group_size > 0 else 'channelwise'} "
        f"(size_k={size_k} / {num_groups} scale columns)",
    )
    dtype = _resolve_dtype(torch, p["dtype"], scales)
    if p["check_finite"]:
        _check_finite(torch, scales, "scales")
        # The kernel's bit-move decode has no NaN: code 0x7F / 0xFF would become +-480.
        _check_finite(torch, qweight, "qweight")
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
            _expect_dtype(gs, "global_scale", ("float32", "float16", "bfloat16", "float64"))
            global_scale = gs.reshape(1).to(device=qweight.device, dtype=torch.float32)
            global_scale = global_scale.contiguous()
    elif p["global_scale"] is not None:
        raise ValueError("global_scale is only for nvfp4")
    if p["check_finite"]:
        _check_finite(torch, scales, "scales", "e8m0" if fmt == "mxfp4" else "float")
        if global_scale is not None:
            _check_finite(torch, global_scale, "global_scale")
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


def _device_of(info) -> tuple[str, int | None]:
    kind = "cuda" if info.device_type in CUDA_DEVICE_TYPES else info.device_type
    return kind, info.device_index


def _check_one_device(infos) -> None:
    """All tensors on one device (a CUDA index that is unknown, e.g. from a CAI, matches any)."""
    kinds = {_device_of(i)[0] for i in infos}
    indices = {_device_of(i)[1] for i in infos if _device_of(i)[1] is not None}
    if len(kinds) > 1 or len(indices) > 1:
        where = ", ".join(
            f"{i.name} on {i.device_type}"
            + ("" if i.device_index is None else f":{i.device_index}")
            for i in infos
        )
        raise ValueError(f"all tensors of one weight must be on one device; got {where}")
    for i in infos:
        if i.device_type == "meta":
            raise ValueError(f"{i.name} is a meta tensor: it holds no data to prepare")


def _check_param_types(**params) -> None:
    """name=(value, type, may_be_None): the scalar parameters, before any comparison."""
    for name, (value, kind, optional) in params.items():
        if value is None and optional:
            continue
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            want = {int: "an int", bool: "a bool", str: "a str"}[kind]
            raise TypeError(
                f"{name} must be {want}{' or None' if optional else ''}; "
                f"got {type(value).__qualname__}"
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
    zero_offset: int | None = None,
    activation: str | None = None,
    dtype=None,
    weight=None,
    stream=None,
    packer: str = "library",
    check_finite: bool = True,
) -> PreparedWeights:
    """Converts checkpoint tensors of `format` into PreparedWeights for `marlin.gemm`.

    Formats (see marlin.quant for the exact layouts):
      "gptq":  qweight int32 [K/pack, N], scales [G, N], optional g_idx [K], bits=4|8, optional
               qzeros int32 [G, N/pack] (packed along N, LSB first, as AutoGPTQ / GPTQModel
               write them). A g_idx that is not the trivial k // group_size turns on act-order
               (perm = argsort(g_idx), g_idx sorted); act_order=True forces it, act_order=False
               refuses a non-trivial g_idx. Act-order g_idx whose groups hold uneven row
               counts is a row-parallel K shard (all G scales rows kept): it is prepared with
               is_k_full=False, group_size=0, and marlin.gemm runs it with is_k_full=False.
               qzeros hold zero - zero_offset per code (mod 2^bits): zero_offset=1 (default)
               reads the AutoGPTQ / GPTQModel v1 ("gptq") format, which stores zeros minus one;
               zero_offset=0 reads GPTQModel's "gptq_v2" format (zeros as they are). qzeros
               whose zeros all equal 2^(bits-1) are symmetric (sym=True writers store them too)
               and change nothing; other zeros make asymmetric weights (sym=False), run as kU4
               with int zero points (4-bit only: no 8-bit zero-point kernels are built).
      "awq":   qweight int32 [K, N/8], qzeros int32 [G, N/8] (AWQ order), scales [G, N].
      "hqq":   qweight uint8 [N, K] codes (0..15) or [N, K/2] nibbles, scales/zeros [N, G]
               float, group_size (64, the only HQQ group size built).
      "fp8":   qweight (or weight) float8_e4m3fn [N, K], scales [N] / [N, K/g] (or one value).
      "nvfp4": qweight uint8 [N, K/2], scales float8_e4m3fn [N, K/16], global_scale.
      "mxfp4": qweight uint8 [N, K/2], scales uint8/float8_e8m0fnu e8m0 [N, K/32].
    A tensor the format does not read is an error (nothing is dropped), and so is a group size
    no kernel of the format's scheme is built for (the error lists the valid ones).
    activation: None (16-bit a), "int8" or "fp8" (gptq int4 / awq; fp8 also mxfp4).
    dtype: the 16-bit output/scale type (float16 or bfloat16) for formats whose scales are in
    the output type (default: the dtype of 16-bit scales, else float16; hqq: float16).
    stream: a torch.cuda.Stream (or a raw cudaStream_t int) to pack on; default the current one.
    packer: "library" (libmarlin on the GPU) or "reference" (torch, any device, no library; also
    takes numpy / host DLPack arrays).
    check_finite: refuse NaN / inf in scales, float zero points and global_scale (default; it
    costs one device sync, once per weight); False keeps them.
    """
    _check_param_types(
        format=(format, str, False),
        bits=(bits, int, True),
        group_size=(group_size, int, True),
        act_order=(act_order, bool, True),
        zero_offset=(zero_offset, int, True),
        activation=(activation, str, True),
        packer=(packer, str, False),
        check_finite=(check_finite, bool, False),
    )
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
    if zero_offset is not None and (
        isinstance(zero_offset, bool) or zero_offset not in (0, 1) or format != "gptq"
    ):
        raise ValueError(
            f"zero_offset={zero_offset!r}: it is for gptq qzeros only, 1 (AutoGPTQ / GPTQModel "
            "v1 format, zeros stored minus one) or 0 (GPTQModel gptq_v2)"
        )
    need_cuda = packer == "library"
    raw = {
        "qweight": qweight,
        "scales": scales,
        "qzeros": qzeros,
        "zeros": zeros,
        "g_idx": g_idx,
        "global_scale": global_scale,
    }
    for name, x in raw.items():
        if x is not None and name not in _FORMAT_TENSORS[format]:
            uses = ", ".join(_FORMAT_TENSORS[format])
            hint = _TENSOR_HINTS.get((format, name), "")
            raise ValueError(
                f"{name} is not used by {format} (it reads {uses}){hint}: refusing to drop it"
            )
    # Device checks first (describe() needs no torch and touches no GPU).
    infos = []
    for name, x in raw.items():
        if x is None or (name == "global_scale" and isinstance(x, (int, float))):
            continue
        info = describe(x, name, allow_host=not need_cuda)
        if need_cuda:
            require_cuda(info)
        infos.append(info)
    if need_cuda:
        same_device(infos)
    _check_one_device(infos)
    torch = _import_torch()
    p = {name: _to_torch(torch, x, name, need_cuda) for name, x in raw.items()}
    p.update(bits=bits, group_size=group_size, act_order=act_order, activation=activation)
    p.update(dtype=dtype, zero_offset=zero_offset, check_finite=bool(check_finite))
    if format != "hqq" and group_size is not None:
        raise ValueError(f"group_size is derived from the scales' shape for {format}; omit it")
    if format not in ("gptq", "awq") and bits not in (None, 4 if format != "fp8" else 8):
        raise ValueError(f"bits={bits} does not apply to {format}")
    if format != "gptq" and act_order:
        raise ValueError(f"act_order=True: {format} has no act-order (only gptq has)")
    if isinstance(global_scale, (int, float)) and check_finite and not math.isfinite(global_scale):
        raise ValueError(
            f"global_scale is {global_scale}: marlin.gemm would turn every output into NaN; "
            "pass check_finite=False to keep it"
        )

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
