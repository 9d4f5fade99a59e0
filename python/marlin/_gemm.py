"""marlin.gemm: C[M, N] = A[M, K] @ W[K, N] (+ bias) over libmarlin's marlin_gemm.

One validator: marlin_gemm checks every rule of the call (sizes, types, alignment, optional
arguments, groups, workspace size, overlaps: validate_gemm_args in marlin/csrc/exec_config.cc)
before it touches the GPU. Python checks only what the C arguments cannot carry: that each
argument is an array on a CUDA device, its dtype, shape and strides, and the PreparedWeights
fields the library never sees (activation, group_size, is_k_full). Python's errors are a
TypeError (wrong kind / dtype) or ValueError (device, shape, layout) naming the argument; the
library's become MarlinArgumentError (a ValueError; MarlinTypeError, also a TypeError, for its
type rules), with its C field names translated to marlin.gemm's (c: out, b_scales: w.scales).

Per call the work is small: the weights are checked and described once (cached on the
PreparedWeights, see _WeightsPlan), and the C struct is a copy of their prefilled template.
torch is used only when the caller passes torch tensors or when marlin must allocate (the output
or the workspace).
"""

from __future__ import annotations

import dataclasses
import operator
import re

from marlin import _lib
from marlin import scalar_types as st
from marlin._prepare import _GEMM_PLAN
from marlin._prepare import PreparedWeights
from marlin._tensors import describe_cuda
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
_A_TYPE_IDS = {name: t.id for name, t in _A_TYPES.items()}
_ACTIVATION_OF = {"int8": "int8", "float8_e4m3fn": "fp8"}
_C_TYPE_IDS = {"float16": st.kFloat16.id, "bfloat16": st.kBFloat16.id}
# Tensor dtypes that hold each scale type; the library checks that s_type fits the call.
_S_DTYPES = {
    st.kFloat16: ("float16",),
    st.kBFloat16: ("bfloat16",),
    st.kFE4M3fn: ("float8_e4m3fn", "uint8"),
    st.kFE8M0fnu: ("uint8", "float8_e8m0fnu"),
}
_WEIGHT_INT_FIELDS = ("size_k", "size_n", "num_groups", "group_size")
# Every field of the weights, read in one call: a plan describes weights whose fields are still
# the very objects it was built from.
_WEIGHT_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(PreparedWeights)))


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
    """The ScalarType of a dtype name, torch dtype or ScalarType (the library checks that it is
    an activation type)."""
    if isinstance(a_dtype, st.ScalarType):
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
    size type), and a_dtype ScalarTypes that are not activation types, with a MarlinError
    naming them."""
    a_type = _a_type_of(a_dtype)
    return _lib.gemm_workspace_bytes(size_m, size_n, size_k, a_type.id, act_order)


def make_workspace(size_m, size_n, size_k, a_dtype="float16", act_order=False, device="cuda"):
    """A zeroed torch uint8 workspace large enough for `marlin.gemm` on this problem."""
    import torch

    n = workspace_bytes(size_m, size_n, size_k, a_dtype, act_order)
    return torch.zeros(max(n, 16), dtype=torch.uint8, device=device)


# (library, M, N, K, a_type id, act-order) -> workspace bytes, for the calls that allocate their
# workspace: the library's layout is a pure function of these, asked once per shape.
_workspace_sizes: dict = {}


def _allocation_bytes(lib, size_m, size_n, size_k, a_type_id, act_order) -> int:
    key = (lib, size_m, size_n, size_k, a_type_id, act_order)
    n = _workspace_sizes.get(key)
    if n is None:
        if len(_workspace_sizes) >= 4096:
            _workspace_sizes.clear()
        n = _workspace_sizes[key] = _lib.gemm_workspace_bytes(
            size_m, size_n, size_k, a_type_id, act_order
        )
    return n


def _int64(value, name: str) -> int:
    """`value` if it fits marlin_gemm_args' int64 fields: ctypes would wrap a larger one."""
    if not _lib.INT64_MIN <= value <= _lib.INT64_MAX:
        raise ValueError(f"{name}={value} does not fit in int64")
    return value


class _WeightsPlan:
    """What marlin.gemm needs from one PreparedWeights, checked and described once: the
    weights' part of marlin_gemm_args (a template each call copies), the device they are on and
    the facts about them that depend on the call (scales and zero-point dtypes).

    Cached on the weights object; `still_describes` notices a field assigned since (a different
    object) and a torch tensor whose storage was replaced in place."""

    __slots__ = (
        "fields",
        "args",
        "size_k",
        "size_n",
        "is_k_full",
        "activation",
        "act_order",
        "s_type",
        "scales_dtype",
        "float_zeros_dtype",
        "infos",
        "device_index",
        "uses_torch",
        "torch_ptrs",
    )

    def __init__(self, w: PreparedWeights):
        self.fields = _WEIGHT_FIELDS(w)
        for field in _WEIGHT_INT_FIELDS:
            value = getattr(w, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"w.{field} must be an int; got {type(value).__qualname__}")
            _int64(value, f"w.{field}")
        for field in ("b_type", "s_type"):
            value = getattr(w, field)
            if not isinstance(value, st.ScalarType):
                raise TypeError(
                    f"w.{field} must be a marlin.scalar_types.ScalarType; "
                    f"got {type(value).__qualname__}"
                )
        size_k, size_n, num_groups, group_size = w.size_k, w.size_n, w.num_groups, w.group_size
        # PreparedWeights fields marlin_gemm never sees (it derives the groups from num_groups).
        self.is_k_full = bool(getattr(w, "is_k_full", True))
        if group_size == 0 and w.perm is None:
            raise ValueError(
                "w.group_size=0 (rows grouped by g_idx) needs act-order weights (w.perm, w.g_idx)"
            )
        if group_size > 0 and size_k % group_size:
            raise ValueError(f"w.group_size={group_size} does not divide size_k={size_k}")
        if group_size > 0 and num_groups * group_size != size_k:
            raise ValueError(
                f"w.num_groups={num_groups} x group_size={group_size} != size_k={size_k}"
            )

        # The tensors: array objects on a CUDA device, their dtypes, shapes and layouts.
        pack = w.pack_factor
        bq = describe_cuda(w.b_q_weight, "w.b_q_weight")
        expect_dtype(bq, ("int32",))
        expect_shape(bq, (size_k // 16, size_n * 16 // pack), "layout v2 [K/16, N*16/pack]")
        expect_contiguous(bq)
        sc = describe_cuda(w.scales, "w.scales")
        if w.s_type in _S_DTYPES:
            expect_dtype(sc, _S_DTYPES[w.s_type])
        expect_shape(sc, (num_groups, size_n), "[num_groups, N]")
        expect_contiguous(sc)
        self.scales_dtype = sc.dtype
        self.float_zeros_dtype = None
        zi = None
        if w.zeros is not None:
            zi = describe_cuda(w.zeros, "w.zeros")
            if w.is_zp_float:  # in the output dtype: checked per call
                expect_shape(zi, (num_groups, size_n), "[num_groups, N] float zero points")
                self.float_zeros_dtype = zi.dtype
            else:
                expect_dtype(zi, ("int32",))
                expect_shape(zi, (num_groups, size_n // pack), "[num_groups, N/pack] int32")
            expect_contiguous(zi)
        gi = None if w.g_idx is None else describe_cuda(w.g_idx, "w.g_idx")
        pi = None if w.perm is None else describe_cuda(w.perm, "w.perm")
        for t in (gi, pi):
            if t is not None:
                expect_dtype(t, ("int32",))
                expect_shape(t, (size_k,), "one entry per row of K")
                expect_contiguous(t)
        gsi = None if w.global_scale is None else describe_cuda(w.global_scale, "w.global_scale")
        if gsi is not None:
            expect_dtype(gsi, ("float32",))
            if gsi.numel != 1:
                raise ValueError(f"w.global_scale must hold one float; got shape {list(gsi.shape)}")
        self.infos = [i for i in (bq, sc, zi, gi, pi, gsi) if i is not None]
        self.device_index = same_device(self.infos)
        self.uses_torch = any(i.is_torch for i in self.infos)
        self.torch_ptrs = [(i.owner, i.ptr) for i in self.infos if i.is_torch]

        self.size_k, self.size_n = size_k, size_n
        self.activation = w.activation
        self.act_order = pi is not None
        self.s_type = w.s_type
        self.args = _lib.GemmArgs(
            struct_size=_lib.GEMM_ARGS_SIZE,
            b_q_weight=bq.ptr,
            b_type=w.b_type.id,
            b_scales=sc.ptr,
            s_type=w.s_type.id,
            num_groups=num_groups,
            b_zeros=zi.ptr if zi is not None else None,
            global_scale=gsi.ptr if gsi is not None else None,
            g_idx=gi.ptr if gi is not None else None,
            perm=pi.ptr if pi is not None else None,
            size_n=size_n,
            size_k=size_k,
            is_zp_float=int(bool(w.is_zp_float)),
        )

    def detached(self) -> _WeightsPlan:
        """A copy that keeps no tensor alive (for caches keyed on the tensors' descriptions, as
        torch.ops.marlin.gemm's): the C template and the facts, no fields, no owners."""
        copy = _WeightsPlan.__new__(_WeightsPlan)
        for slot in _WeightsPlan.__slots__:
            setattr(copy, slot, getattr(self, slot))
        copy.fields = None
        copy.torch_ptrs = []
        copy.infos = [dataclasses.replace(i, owner=None) for i in self.infos]
        return copy

    def still_describes(self, w: PreparedWeights) -> bool:
        """False when a field of w was assigned since, or one of its torch tensors was re-pointed
        in place (set_, .data =)."""
        if not all(map(operator.is_, _WEIGHT_FIELDS(w), self.fields)):
            return False
        return all(tensor.data_ptr() == ptr for tensor, ptr in self.torch_ptrs)


def _weights_plan(w: PreparedWeights) -> _WeightsPlan:
    plan = w.__dict__.get(_GEMM_PLAN)
    if plan is None or not plan.still_describes(w):
        plan = w.__dict__[_GEMM_PLAN] = _WeightsPlan(w)
    return plan


# The library names marlin_gemm_args fields in its messages; say what they are in marlin.gemm.
_GEMM_NAMES = {
    "a_type": "a.dtype",
    "c": "out",
    "c_type": "the output dtype",
    "lda": "a.stride(0)",
    "size_m": "a.shape[0]",
    "size_n": "w.size_n",
    "size_k": "w.size_k = a.shape[1]",
    "b_q_weight": "w.b_q_weight",
    "b_type": "w.b_type",
    "b_scales": "w.scales",
    "s_type": "w.s_type",
    "num_groups": "w.num_groups",
    "b_zeros": "w.zeros",
    "is_zp_float": "w.is_zp_float",
    "global_scale": "w.global_scale",
    "g_idx": "w.g_idx",
    "perm": "w.perm",
    "b_bias": "bias",
}
_GEMM_NAME_RE = re.compile(r"\b(" + "|".join(sorted(_GEMM_NAMES, key=len, reverse=True)) + r")\b")


def _in_gemm_terms(e: _lib.MarlinArgumentError) -> _lib.MarlinArgumentError:
    """The library's argument error with the marlin.gemm names of the fields it mentions."""
    used = dict.fromkeys(_GEMM_NAME_RE.findall(e.message))
    if not used:
        return e
    names = ", ".join(f"{c_name} is {_GEMM_NAMES[c_name]}" for c_name in used)
    return type(e)(e.code, f"{e.message} (in marlin.gemm: {names})", e.function)


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
    return gemm_planned(
        a,
        _weights_plan(w),
        a_scales=a_scales,
        bias=bias,
        out=out,
        workspace=workspace,
        is_k_full=is_k_full,
        use_fp32_reduce=use_fp32_reduce,
        use_atomic_add=use_atomic_add,
        stream=stream,
    )


def gemm_planned(
    a,
    plan: _WeightsPlan,
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
    """marlin.gemm on weights already checked and described (a _WeightsPlan): the per-call part."""
    if is_k_full is None:
        is_k_full = plan.is_k_full
    elif is_k_full and not plan.is_k_full:
        raise ValueError(
            "is_k_full=True but w is an act-order K shard (w.is_k_full is False: its g_idx "
            "groups are uneven): it runs only with is_k_full=False"
        )

    # --- a
    ai = describe_cuda(a, "a")
    a_type = _A_TYPE_IDS.get(ai.dtype)
    if a_type is None:
        expect_dtype(ai, A_DTYPES)
    if len(ai.shape) != 2:
        raise ValueError(f"a must be 2-D [M, K]; got shape {list(ai.shape)}")
    size_m, size_k = ai.shape
    size_n = plan.size_n
    if size_k != plan.size_k:
        raise ValueError(
            f"a has shape {list(ai.shape)}: K={size_k} columns, but w was prepared for "
            f"size_k={plan.size_k}"
        )
    strides = ai.strides
    if size_k > 1 and strides[1] != 1:
        raise ValueError(
            f"a must have stride(1) == 1 (rows contiguous); got strides {list(strides)}"
        )
    lda = _int64(strides[0], "a.stride(0)") if size_m > 1 else size_k
    activation = _ACTIVATION_OF.get(ai.dtype)
    if activation != plan.activation:
        want = {None: "float16/bfloat16", "int8": "int8", "fp8": "float8_e4m3fn"}.get(
            plan.activation, plan.activation
        )
        raise TypeError(
            f"a has dtype {ai.dtype} but w was prepared for {want} activations "
            f"(prepare_weights(..., activation={activation!r}) for {ai.dtype} a)"
        )

    # --- output dtype: what torch allocates, and what bias and float zero points must match
    out_i = None
    if out is not None:
        out_i = describe_cuda(out, "out")
        if out_i.dtype not in _C_TYPE_IDS:
            expect_dtype(out_i, C_DTYPES)
        expect_shape(out_i, (size_m, size_n), "[M, N]")
        expect_contiguous(out_i)
        c_dtype = out_i.dtype
    elif activation is None:
        c_dtype = ai.dtype
    elif plan.scales_dtype in _C_TYPE_IDS:
        c_dtype = plan.scales_dtype
    else:
        raise ValueError(
            f"out is required for {ai.dtype} activations with {plan.s_type} scales: pass a "
            "float16 or bfloat16 out [M, N] to choose the output dtype"
        )
    if plan.float_zeros_dtype is not None and plan.float_zeros_dtype != c_dtype:
        raise TypeError(f"w.zeros has dtype {plan.float_zeros_dtype}; expected {c_dtype}")

    # --- a_scales, bias, workspace
    asi = None
    if a_scales is not None:
        asi = describe_cuda(a_scales, "a_scales")
        expect_dtype(asi, ("float32",))
        expect_shape(asi, (size_m,), "one scale per row of a")
        expect_contiguous(asi)
    bi = None
    if bias is not None:
        bi = describe_cuda(bias, "bias")
        expect_dtype(bi, (c_dtype,))
        expect_shape(bi, (size_n,), "[N]")
        expect_contiguous(bi)
    wsi = None
    if workspace is not None:
        wsi = describe_cuda(workspace, "workspace")
        expect_contiguous(wsi)
    handle = _stream_handle(stream)

    # --- one device for everything; torch when it is involved or must allocate
    per_call = (ai, out_i, asi, bi, wsi)
    device_index = plan.device_index
    uses_torch = plan.uses_torch
    for info in per_call:
        if info is None:
            continue
        uses_torch = uses_torch or info.kind == "torch"
        if info.device_index is not None:
            if device_index is None:
                device_index = info.device_index
            elif info.device_index != device_index:
                same_device([*per_call, *plan.infos])  # raises, naming every tensor's device
    torch = torch_module() if uses_torch else None
    if (out is None or (wsi is None and size_m > 0)) and torch is None:
        try:
            import torch
        except ImportError:
            what = "out" if out is None else "workspace"
            raise TypeError(f"{what} is required when torch is not installed") from None
        uses_torch = True

    # --- from here on the library is needed (it validates every call, the empty one too)
    lib = _lib.load()
    args = _lib.GemmArgs.from_buffer_copy(plan.args)
    args.a = ai.ptr
    args.lda = lda
    args.a_type = a_type
    args.c_type = _C_TYPE_IDS[c_dtype]
    args.b_bias = bi.ptr if bi is not None else None
    args.a_scales = asi.ptr if asi is not None else None
    args.size_m = _int64(size_m, "a.shape[0]")
    args.is_k_full = 1 if is_k_full else 0
    args.use_atomic_add = 1 if use_atomic_add else 0
    args.use_fp32_reduce = 1 if use_fp32_reduce else 0
    if not uses_torch:
        args.c = out_i.ptr
        args.workspace = wsi.ptr if wsi is not None else None
        args.workspace_bytes = wsi.nbytes if wsi is not None else 0
        args.stream = handle or None
        _call(args)
        return out
    if device_index is None:
        device_index = torch.cuda.current_device()
    call = (torch, lib, args, plan, device_index, out, out_i, wsi, c_dtype, handle)
    if device_index == torch.cuda.current_device():
        return _call_on_device(*call)
    with torch.cuda.device(device_index):  # marlin_gemm runs on the current device
        return _call_on_device(*call)


def _call_on_device(torch, lib, args, plan, device_index, out, out_i, wsi, c_dtype, handle):
    """The rest of a torch call, with device_index current: allocations, stream, marlin_gemm."""
    size_m = args.size_m
    if out is None:
        device = _device(torch, device_index)
        out = torch.empty((size_m, plan.size_n), dtype=getattr(torch, c_dtype), device=device)
        args.c = out.data_ptr()
    else:
        args.c = out_i.ptr
    if wsi is not None:
        args.workspace = wsi.ptr
        args.workspace_bytes = wsi.nbytes
    elif size_m > 0:
        n = _allocation_bytes(lib, size_m, plan.size_n, plan.size_k, args.a_type, plan.act_order)
        workspace = torch.zeros(max(n, 16), dtype=torch.uint8, device=_device(torch, device_index))
        args.workspace = workspace.data_ptr()
        args.workspace_bytes = workspace.numel()
    args.stream = (handle if handle is not None else _current_stream(torch, device_index)) or None
    _call(args)
    return out


def _call(args) -> None:
    try:
        _lib.gemm(args)  # through the module: forced_exec_config replaces it
    except _lib.MarlinArgumentError as e:
        raise _in_gemm_terms(e) from None


_devices: dict = {}


def _device(torch, index: int):
    device = _devices.get(index)
    if device is None:
        device = _devices[index] = torch.device("cuda", index)
    return device


def _current_stream(torch, index: int) -> int:
    """The raw cudaStream_t of torch's current stream on device `index`."""
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)  # no Stream object per call
    if raw is not None:
        return raw(index)
    return torch.cuda.current_stream(index).cuda_stream
