"""marlin.gemm: C[M, N] = A[M, K] @ W[K, N] (+ bias) over libmarlin's marlin_gemm.

Every argument is checked here, before the library is loaded or anything reaches the GPU; each
error is a TypeError (wrong kind / dtype) or ValueError (device, shape, layout) naming the
argument. torch is used only when the caller passes torch tensors or when marlin must allocate
(the output or the workspace).
"""

from __future__ import annotations

import contextlib

from marlin import _lib
from marlin import scalar_types as st
from marlin._prepare import PreparedWeights
from marlin._tensors import TensorInfo
from marlin._tensors import describe_cuda
from marlin._tensors import expect_aligned
from marlin._tensors import expect_contiguous
from marlin._tensors import expect_dtype
from marlin._tensors import expect_shape
from marlin._tensors import same_device
from marlin._tensors import torch_module

A_DTYPES = ("float16", "bfloat16", "int8", "float8_e4m3fn")
C_DTYPES = ("float16", "bfloat16")
_A_TYPES = {
    "float16": st.kFloat16,
    "bfloat16": st.kBFloat16,
    "int8": st.kS8,
    "float8_e4m3fn": st.kFE4M3fn,
}
_ACTIVATION_OF = {"int8": "int8", "float8_e4m3fn": "fp8"}
_C_TYPES = {"float16": st.kFloat16, "bfloat16": st.kBFloat16}
_S_DTYPES = {
    st.kFloat16: ("float16",),
    st.kBFloat16: ("bfloat16",),
    st.kFE4M3fn: ("float8_e4m3fn", "uint8"),
    st.kFE8M0fnu: ("uint8", "float8_e8m0fnu"),
}
MIN_K_TILE = 64  # thread_k_blocks >= 4
MIN_N_TILE = 64  # thread_n_blocks >= 4


def _stream_handle(stream, name: str = "stream"):
    """The cudaStream_t of `stream` as an int; None means 'decide later' (torch's or 0)."""
    if stream is None:
        return None
    if isinstance(stream, bool):
        raise TypeError(f"{name} must be a CUDA stream, an int handle or None; got a bool")
    if isinstance(stream, int):
        return int(stream)
    for attr in ("cuda_stream", "ptr", "handle"):
        if hasattr(stream, attr):
            return int(getattr(stream, attr))
    raise TypeError(
        f"{name} must be None, an int cudaStream_t, or a stream object with .cuda_stream / .ptr; "
        f"got {type(stream).__qualname__}"
    )


def _a_type_of(a_dtype) -> st.ScalarType:
    """The activation ScalarType of a dtype name, torch dtype or ScalarType (else an error)."""
    if isinstance(a_dtype, st.ScalarType):
        if a_dtype not in _A_TYPES.values():
            raise ValueError(
                f"a_dtype {a_dtype} is not an activation type; valid: "
                + ", ".join(str(t) for t in _A_TYPES.values())
            )
        return a_dtype
    name = a_dtype if isinstance(a_dtype, str) else None
    if name is None and type(a_dtype).__name__ == "dtype" and hasattr(a_dtype, "is_floating_point"):
        name = str(a_dtype).removeprefix("torch.")  # a torch.dtype
    if name is None:
        raise TypeError(
            f"a_dtype must be a dtype name ({', '.join(A_DTYPES)}), a torch.dtype or a "
            f"marlin.scalar_types activation type; got {type(a_dtype).__qualname__}"
        )
    if name not in _A_TYPES:
        raise ValueError(
            f"a_dtype {a_dtype!r} is not an activation dtype; valid: {', '.join(A_DTYPES)}"
        )
    return _A_TYPES[name]


def workspace_bytes(size_m: int, size_n: int, size_k: int, a_dtype="float16", act_order=False):
    """Bytes of zeroed workspace marlin.gemm needs for this problem (loads the library).

    Sizes must be ints; the library refuses negative sizes and sizes beyond int32 (the kernel's
    size type) with a MarlinError naming them."""
    a_type = _a_type_of(a_dtype)
    return _lib.gemm_workspace_bytes(size_m, size_n, size_k, a_type.id, act_order)


def make_workspace(size_m, size_n, size_k, a_dtype="float16", act_order=False, device="cuda"):
    """A zeroed torch uint8 workspace large enough for `marlin.gemm` on this problem."""
    import torch

    n = workspace_bytes(size_m, size_n, size_k, a_dtype, act_order)
    return torch.zeros(max(n, 16), dtype=torch.uint8, device=device)


def _opt(x, name):
    return None if x is None else describe_cuda(x, name)


def gemm(
    a,
    w: PreparedWeights,
    *,
    a_scales=None,
    bias=None,
    out=None,
    workspace=None,
    is_k_full: bool | None = None,
    use_fp32_reduce: bool = True,
    use_atomic_add: bool = False,
    stream=None,
):
    """C = A @ dequant(W) (+ bias), A [M, K] row-major (stride(1) == 1, lda = stride(0)).

    a: float16 / bfloat16, or int8 / float8_e4m3fn with a_scales (float32 [M]) for weights
    prepared with activation="int8" / "fp8"; C[m, n] = a_scales[m] * sum_k A[m, k] W[k, n].
    Output dtype: a.dtype for 16-bit a; else the scales' dtype, or out's dtype (MXFP4 with fp8 a).
    out: optional preallocated contiguous [M, N]; returned as given. workspace: optional
    zero-initialised buffer of >= marlin.workspace_bytes(...) bytes (allocated when omitted).
    stream: None = the current torch stream when torch tensors are involved, else the default
    stream; or a torch.cuda.Stream / object with .cuda_stream or .ptr / int handle.
    is_k_full: None = w.is_k_full (False for an act-order K shard, see prepare_weights); False
    also runs fully prepared act-order weights through the g_idx kernel.
    """
    if not isinstance(w, PreparedWeights):
        raise TypeError(
            f"w must be a marlin.PreparedWeights (from prepare_weights); got {type(w).__qualname__}"
        )
    for field in ("size_k", "size_n", "num_groups", "group_size"):
        value = getattr(w, field)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"w.{field} must be an int; got {type(value).__qualname__}")
    if w.num_groups < 1:
        raise ValueError(f"w.num_groups={w.num_groups} must be >= 1 (1 = channelwise)")
    w_k_full = bool(getattr(w, "is_k_full", True))
    if is_k_full is None:
        is_k_full = w_k_full
    elif is_k_full and not w_k_full:
        raise ValueError(
            "is_k_full=True but w is an act-order K shard (w.is_k_full is False: its g_idx "
            "groups are uneven): it runs only with is_k_full=False"
        )
    if w.group_size == 0 and w.perm is None:
        raise ValueError(
            "w.group_size=0 (rows grouped by g_idx) needs act-order weights (w.perm, w.g_idx)"
        )
    ai = describe_cuda(a, "a")
    expect_dtype(ai, A_DTYPES)
    if ai.ndim != 2:
        raise ValueError(f"a must be 2-D [M, K]; got shape {list(ai.shape)}")
    size_m, size_k = ai.shape
    size_n = w.size_n
    if size_k != w.size_k:
        raise ValueError(
            f"a has shape {list(ai.shape)}: K={size_k} columns, but w was prepared for "
            f"size_k={w.size_k}"
        )
    if size_k > 1 and ai.strides[1] != 1:
        raise ValueError(
            f"a must have stride(1) == 1 (rows contiguous); got strides {list(ai.strides)}"
        )
    lda = ai.strides[0] if size_m > 1 else size_k
    if lda < size_k:
        raise ValueError(f"a has row stride {lda} < K={size_k} (overlapping rows)")
    if size_k <= 0 or size_n <= 0:
        raise ValueError(f"size_k={size_k} and size_n={size_n} must be positive")
    sizes = (("size_m", size_m), ("size_n", size_n), ("size_k", size_k), ("lda", lda))
    too_big = [f"{name}={value}" for name, value in sizes if value > _lib.INT32_MAX]
    if too_big:
        raise ValueError(
            f"{', '.join(too_big)}: the kernel takes int32 sizes (each must be <= {_lib.INT32_MAX})"
        )
    a_type = _A_TYPES[ai.dtype]
    a_is_8bit = a_type.size_bits == 8
    row_align = 16 if a_is_8bit else 8  # elements per 16 bytes
    expect_aligned(ai, 16)
    if lda % row_align:
        raise ValueError(
            f"a's row stride (lda={lda} elements) must be a multiple of {row_align} so that every "
            "row starts 16-byte aligned"
        )
    activation = _ACTIVATION_OF.get(ai.dtype)
    if activation != w.activation:
        want = {None: "float16/bfloat16", "int8": "int8", "fp8": "float8_e4m3fn"}[w.activation]
        raise TypeError(
            f"a has dtype {ai.dtype} but w was prepared for {want} activations "
            f"(prepare_weights(..., activation={activation!r}) for {ai.dtype} a)"
        )
    if size_n % MIN_N_TILE:
        raise ValueError(f"size_n={size_n} must be a multiple of {MIN_N_TILE}")
    if size_k % MIN_K_TILE:
        raise ValueError(f"size_k={size_k} (a.shape[1]) must be a multiple of {MIN_K_TILE}")
    if w.group_size > 0 and size_k % w.group_size:
        raise ValueError(f"w.group_size={w.group_size} does not divide size_k={size_k}")
    if w.group_size > 0 and w.num_groups * w.group_size != size_k:
        raise ValueError(
            f"w.num_groups={w.num_groups} x group_size={w.group_size} != size_k={size_k}"
        )

    # --- weights
    bq = describe_cuda(w.b_q_weight, "w.b_q_weight")
    expect_dtype(bq, ("int32",))
    expect_shape(bq, (size_k // 16, size_n * 16 // w.pack_factor), "layout v1 [K/16, N*16/pack]")
    expect_contiguous(bq)
    expect_aligned(bq)
    sc = describe_cuda(w.scales, "w.scales")
    if w.s_type not in _S_DTYPES:
        raise ValueError(f"w.s_type {w.s_type} is not a scale type")
    expect_dtype(sc, _S_DTYPES[w.s_type])
    expect_shape(sc, (w.num_groups, size_n), "[num_groups, N]")
    expect_contiguous(sc)
    expect_aligned(sc)

    # --- output type
    out_i = _opt(out, "out")
    if out_i is not None:
        expect_dtype(out_i, C_DTYPES)
    if not a_is_8bit:
        c_dtype = ai.dtype
    elif sc.dtype in C_DTYPES:
        c_dtype = sc.dtype
    elif out_i is not None:
        c_dtype = out_i.dtype
    else:
        raise ValueError(
            f"out is required for {ai.dtype} activations with {w.s_type} scales: pass a float16 or "
            "bfloat16 out [M, N] to choose the output dtype"
        )
    c_type = _C_TYPES[c_dtype]
    if w.s_type in (st.kFloat16, st.kBFloat16) and w.s_type != c_type:
        raise TypeError(
            f"w.scales has dtype {sc.dtype} but the output dtype is {c_dtype}: prepare the "
            f"weights with dtype={c_dtype}"
        )
    if out_i is not None:
        expect_dtype(out_i, (c_dtype,))
        expect_shape(out_i, (size_m, size_n), "[M, N]")
        expect_contiguous(out_i)
        expect_aligned(out_i)

    # --- zero points, act-order, global scale
    zi = _opt(w.zeros, "w.zeros")
    if w.is_zp_float:
        if zi is None:
            raise ValueError("w.zeros is required when w.is_zp_float (float zero points)")
        expect_dtype(zi, (c_dtype,))
        expect_shape(zi, (w.num_groups, size_n), "[num_groups, N] float zero points")
    elif zi is not None:
        if w.b_type not in (st.kU4, st.kU8):
            raise ValueError(f"w.zeros is only valid for kU4/kU8 weights; w.b_type is {w.b_type}")
        expect_dtype(zi, ("int32",))
        expect_shape(zi, (w.num_groups, size_n // w.pack_factor), "[num_groups, N/pack] int32")
    elif w.b_type in (st.kU4, st.kU8):
        raise ValueError(f"w.zeros is required for {w.b_type} weights (zero points)")
    if zi is not None:
        expect_contiguous(zi)
        expect_aligned(zi)
    gi = _opt(w.g_idx, "w.g_idx")
    pi = _opt(w.perm, "w.perm")
    if (gi is None) != (pi is None):
        raise ValueError("w.g_idx and w.perm must both be set (act-order) or both be None")
    for t in (gi, pi):
        if t is not None:
            expect_dtype(t, ("int32",))
            expect_shape(t, (size_k,), "one entry per row of K")
            expect_contiguous(t)
    gsi = _opt(w.global_scale, "w.global_scale")
    needs_global = w.b_type == st.kFE2M1f and w.s_type == st.kFE4M3fn
    if needs_global and gsi is None:
        raise ValueError("w.global_scale is required for NVFP4 weights (e2m1 with e4m3 scales)")
    if gsi is not None:
        if not needs_global:
            raise ValueError("w.global_scale is only for NVFP4 weights")
        expect_dtype(gsi, ("float32",))
        if gsi.numel != 1:
            raise ValueError(f"w.global_scale must hold one float; got shape {list(gsi.shape)}")

    # --- a_scales, bias, workspace
    asi = _opt(a_scales, "a_scales")
    if a_is_8bit:
        if asi is None:
            raise ValueError(f"a_scales (float32 [M]) is required for {ai.dtype} activations")
        expect_dtype(asi, ("float32",))
        expect_shape(asi, (size_m,), "one scale per row of a")
        expect_contiguous(asi)
    elif asi is not None:
        raise ValueError("a_scales is only for int8 / float8_e4m3fn activations; a is 16-bit")
    bi = _opt(bias, "bias")
    if bi is not None:
        expect_dtype(bi, (c_dtype,))
        expect_shape(bi, (size_n,), "[N]")
        expect_contiguous(bi)
        expect_aligned(bi)
    wsi = _opt(workspace, "workspace")
    if wsi is not None:
        expect_contiguous(wsi)
    handle = _stream_handle(stream)
    infos = [ai, bq, sc, out_i, zi, gi, pi, gsi, asi, bi, wsi]
    device_index = same_device(infos)
    uses_torch = any(i is not None and i.is_torch for i in infos)
    torch = torch_module() if uses_torch else None
    if (out_i is None or wsi is None) and torch is None:
        try:
            import torch
        except ImportError:
            what = "out" if out_i is None else "workspace"
            raise TypeError(f"{what} is required when torch is not installed") from None
        uses_torch = True

    if size_m == 0:
        if out is not None:
            return out
        return torch.empty((0, size_n), dtype=getattr(torch, c_dtype), device=_device(torch, ai))

    # --- from here on the library is needed
    _lib.load()
    has_act_order = pi is not None
    need_ws = _lib.gemm_workspace_bytes(size_m, size_n, size_k, a_type.id, has_act_order)
    dev = _device(torch, ai, device_index) if uses_torch else None
    guard = torch.cuda.device(dev) if uses_torch else contextlib.nullcontext()
    with guard:
        if out is None:
            out = torch.empty((size_m, size_n), dtype=getattr(torch, c_dtype), device=dev)
            out_i = describe_cuda(out, "out")
        if wsi is None:
            workspace = torch.zeros(max(need_ws, 16), dtype=torch.uint8, device=dev)
            wsi = describe_cuda(workspace, "workspace")
        elif wsi.nbytes < need_ws:
            raise ValueError(
                f"workspace holds {wsi.nbytes} bytes; this call needs {need_ws} "
                f"(marlin.workspace_bytes({size_m}, {size_n}, {size_k}, ...))"
            )
        if handle is None:
            handle = torch.cuda.current_stream(dev).cuda_stream if uses_torch else 0
        args = _lib.GemmArgs(
            a=ai.ptr,
            lda=lda,
            a_type=a_type.id,
            c=out_i.ptr,
            c_type=c_type.id,
            b_q_weight=bq.ptr,
            b_type=w.b_type.id,
            b_scales=sc.ptr,
            s_type=w.s_type.id,
            num_groups=w.num_groups,
            b_zeros=_ptr(zi),
            b_bias=_ptr(bi),
            a_scales=_ptr(asi),
            global_scale=_ptr(gsi),
            g_idx=_ptr(gi),
            perm=_ptr(pi),
            workspace=wsi.ptr,
            workspace_bytes=wsi.nbytes,
            size_m=size_m,
            size_n=size_n,
            size_k=size_k,
            is_k_full=int(bool(is_k_full)),
            use_atomic_add=int(bool(use_atomic_add)),
            use_fp32_reduce=int(bool(use_fp32_reduce)),
            is_zp_float=int(bool(w.is_zp_float)),
            stream=handle or None,
        )
        _lib.gemm(args)
    return out


def _ptr(info: TensorInfo | None):
    return info.ptr if info is not None else None


def _device(torch, ai: TensorInfo, index=None):
    if index is None:
        index = ai.device_index
    if index is None:
        index = torch.cuda.current_device()
    return torch.device("cuda", index)
