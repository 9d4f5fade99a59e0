"""Tensor descriptions from torch tensors, DLPack and `__cuda_array_interface__` objects.

`describe(x, name)` reads pointer, shape, strides (in elements), dtype and device without
touching the GPU and without importing torch (a torch tensor can only exist when torch is
already imported). `require_cuda` rejects host tensors with a message naming the argument.
"""

from __future__ import annotations

import ctypes
import dataclasses
import sys
from typing import Any

ITEMSIZE = {
    "bool": 1,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
    "float16": 2,
    "bfloat16": 2,
    "float32": 4,
    "float64": 8,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "float8_e8m0fnu": 1,
    "float4_e2m1fn_x2": 1,
}

CUDA_DEVICE_TYPES = ("cuda", "cuda_managed")


@dataclasses.dataclass(slots=True)
class TensorInfo:
    """What marlin needs to know about one array argument."""

    name: str
    ptr: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]  # in elements
    dtype: str
    device_type: str  # "cuda", "cuda_managed", "cpu", "cuda_host", "meta", ...
    device_index: int | None
    kind: str  # "torch", "dlpack", "cai"
    owner: Any = dataclasses.field(repr=False, default=None)  # keeps the memory alive

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def itemsize(self) -> int:
        return ITEMSIZE.get(self.dtype, 0)

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize

    def is_contiguous(self) -> bool:
        shape, strides = self.shape, self.strides
        expected = 1
        for i in range(len(shape) - 1, -1, -1):
            if shape[i] != 1 and strides[i] != expected:
                return False
            expected *= shape[i]
        return True

    @property
    def is_torch(self) -> bool:
        return self.kind == "torch"


def torch_module():
    """torch if it is already imported, else None (never imports it)."""
    return sys.modules.get("torch")


def is_torch_tensor(x) -> bool:
    torch = torch_module()
    return torch is not None and isinstance(x, torch.Tensor)


# ---------------------------------------------------------------------------------------------
# DLPack


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [
        ("dl_tensor", _DLTensor),
        ("manager_ctx", ctypes.c_void_p),
        ("deleter", ctypes.c_void_p),
    ]


class _DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class _DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [
        ("version", _DLPackVersion),
        ("manager_ctx", ctypes.c_void_p),
        ("deleter", ctypes.c_void_p),
        ("flags", ctypes.c_uint64),
        ("dl_tensor", _DLTensor),
    ]


DL_DEVICE_TYPES = {
    1: "cpu",
    2: "cuda",
    3: "cuda_host",
    4: "opencl",
    7: "vulkan",
    8: "metal",
    9: "vpi",
    10: "rocm",
    11: "rocm_host",
    12: "ext_dev",
    13: "cuda_managed",
    14: "oneapi",
}

# (type code, bits) -> dtype name (DLPack 1.1 codes; fp8 codes checked against torch's export).
DL_DTYPES = {
    (0, 8): "int8",
    (0, 16): "int16",
    (0, 32): "int32",
    (0, 64): "int64",
    (1, 8): "uint8",
    (1, 16): "uint16",
    (1, 32): "uint32",
    (1, 64): "uint64",
    (2, 16): "float16",
    (2, 32): "float32",
    (2, 64): "float64",
    (4, 16): "bfloat16",
    (6, 8): "bool",
    (10, 8): "float8_e4m3fn",
    (12, 8): "float8_e5m2",
    (14, 8): "float8_e8m0fnu",
}

_py = ctypes.pythonapi
_py.PyCapsule_IsValid.restype = ctypes.c_int
_py.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_py.PyCapsule_GetPointer.restype = ctypes.c_void_p
_py.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_py.PyCapsule_GetName.restype = ctypes.c_char_p
_py.PyCapsule_GetName.argtypes = [ctypes.py_object]


def _is_capsule(x) -> bool:
    return type(x).__name__ == "PyCapsule"


def _from_capsule(capsule, name: str, owner) -> TensorInfo:
    if _py.PyCapsule_IsValid(capsule, b"dltensor"):
        managed = _DLManagedTensor.from_address(_py.PyCapsule_GetPointer(capsule, b"dltensor"))
        t = managed.dl_tensor
    elif _py.PyCapsule_IsValid(capsule, b"dltensor_versioned"):
        ptr = _py.PyCapsule_GetPointer(capsule, b"dltensor_versioned")
        t = _DLManagedTensorVersioned.from_address(ptr).dl_tensor
    else:
        cap_name = _py.PyCapsule_GetName(capsule)
        raise TypeError(
            f"{name} is a PyCapsule named {cap_name!r}, not a DLPack tensor "
            "('dltensor'); a consumed ('used_dltensor') capsule cannot be reused"
        )
    ndim = int(t.ndim)
    shape = tuple(int(t.shape[i]) for i in range(ndim))
    if t.strides:
        strides = tuple(int(t.strides[i]) for i in range(ndim))
    else:  # compact row-major
        strides, acc = [], 1
        for d in reversed(shape):
            strides.append(acc)
            acc *= d
        strides = tuple(reversed(strides))
    code, bits, lanes = int(t.dtype.code), int(t.dtype.bits), int(t.dtype.lanes)
    dtype = DL_DTYPES.get((code, bits)) if lanes == 1 else None
    if code == 17 and bits == 4:  # kDLFloat4_e2m1fn: not addressable per element
        dtype = None
    if dtype is None:
        raise TypeError(
            f"{name} has a DLPack dtype (code={code}, bits={bits}, lanes={lanes}) "
            "that marlin does not use"
        )
    device_type = DL_DEVICE_TYPES.get(int(t.device.device_type), f"dl{t.device.device_type}")
    return TensorInfo(
        name=name,
        ptr=int(t.data or 0) + int(t.byte_offset),
        shape=shape,
        strides=strides,
        dtype=dtype,
        device_type=device_type,
        device_index=int(t.device.device_id),
        kind="dlpack",
        owner=(owner, capsule),
    )


# ---------------------------------------------------------------------------------------------
# __cuda_array_interface__

_CAI_DTYPES = {
    "b1": "bool",
    "i1": "int8",
    "u1": "uint8",
    "i2": "int16",
    "u2": "uint16",
    "i4": "int32",
    "u4": "uint32",
    "i8": "int64",
    "u8": "uint64",
    "f2": "float16",
    "f4": "float32",
    "f8": "float64",
}


def _from_cai(x, name: str) -> TensorInfo:
    cai = x.__cuda_array_interface__
    typestr = str(cai.get("typestr", ""))
    if typestr[:1] == ">":
        raise TypeError(f"{name} is big-endian ({typestr!r}); marlin needs little-endian data")
    dtype = _CAI_DTYPES.get(typestr[1:])
    if dtype is None:
        raise TypeError(
            f"{name} has __cuda_array_interface__ typestr {typestr!r}, which marlin does not use "
            "(for bfloat16 or float8 pass a torch tensor or a DLPack object)"
        )
    shape = tuple(int(d) for d in cai["shape"])
    itemsize = ITEMSIZE[dtype]
    if cai.get("strides") is None:
        strides, acc = [], 1
        for d in reversed(shape):
            strides.append(acc)
            acc *= d
        strides = tuple(reversed(strides))
    else:
        byte_strides = tuple(int(s) for s in cai["strides"])
        if any(s % itemsize for s in byte_strides):
            raise ValueError(
                f"{name} has strides {byte_strides} (bytes) that are not a multiple "
                f"of its item size {itemsize}"
            )
        strides = tuple(s // itemsize for s in byte_strides)
    data = cai.get("data")
    ptr = int(data[0]) if data else 0
    if cai.get("mask") is not None:
        raise ValueError(
            f"{name} has a mask in __cuda_array_interface__; masked arrays are not supported"
        )
    return TensorInfo(
        name=name,
        ptr=ptr,
        shape=shape,
        strides=strides,
        dtype=dtype,
        device_type="cuda",
        device_index=None,
        kind="cai",
        owner=x,
    )


# ---------------------------------------------------------------------------------------------


_TORCH_DTYPE_NAMES = {}  # torch.dtype -> "float16", ...: str(dtype) costs more than a lookup


def _from_torch(x, name: str) -> TensorInfo:
    dtype = _TORCH_DTYPE_NAMES.get(x.dtype)
    if dtype is None:
        dtype = _TORCH_DTYPE_NAMES[x.dtype] = str(x.dtype).removeprefix("torch.")
    # is_cuda / get_device are the cheap reads of the device (marlin.gemm describes per call).
    if x.is_cuda:
        device_type, device_index, ptr = "cuda", x.get_device(), x.data_ptr()
    else:
        dev = x.device
        device_type, device_index = dev.type, dev.index
        ptr = x.data_ptr() if device_type != "meta" else 0
    # torch.Size and stride() are tuples of ints already.
    return TensorInfo(
        name, ptr, tuple(x.shape), x.stride(), dtype, device_type, device_index, "torch", x
    )


def describe(x, name: str, allow_host: bool = False) -> TensorInfo:
    """Describes `x` (torch tensor, DLPack capsule/object, or CUDA array interface object).

    A DLPack object on a host device is refused before it is exported unless `allow_host`
    (CPU work such as the reference packer of prepare_weights)."""
    if is_torch_tensor(x):
        return _from_torch(x, name)
    if _is_capsule(x):
        return _from_capsule(x, name, None)
    if hasattr(x, "__cuda_array_interface__"):
        return _from_cai(x, name)
    if hasattr(x, "__dlpack__"):
        if hasattr(x, "__dlpack_device__") and not allow_host:
            dev_type, dev_id = x.__dlpack_device__()
            dev = DL_DEVICE_TYPES.get(int(dev_type), f"dl{int(dev_type)}")
            if dev not in CUDA_DEVICE_TYPES:
                raise ValueError(_not_cuda_message(name, dev))
        return _from_capsule(x.__dlpack__(), name, x)
    raise TypeError(
        f"{name} must be a torch.Tensor, a DLPack capsule or object (__dlpack__), or an object "
        f"with __cuda_array_interface__; got {type(x).__module__}.{type(x).__qualname__}"
    )


def _not_cuda_message(name: str, device_type: str) -> str:
    where = {"cpu": "CPU", "cuda_host": "pinned host (CUDA host)", "meta": "meta"}.get(
        device_type, device_type
    )
    return (
        f"{name} must be on a CUDA device, but it is a {where} tensor: marlin runs on the GPU "
        f"(move it there first, e.g. {name}.cuda())"
    )


def require_cuda(info: TensorInfo) -> TensorInfo:
    if info.device_type not in CUDA_DEVICE_TYPES:
        raise ValueError(_not_cuda_message(info.name, info.device_type))
    return info


def describe_cuda(x, name: str) -> TensorInfo:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor) and x.is_cuda:
        return _from_torch(x, name)  # the per-call common case: nothing to refuse
    return require_cuda(describe(x, name))


def expect_dtype(info: TensorInfo, allowed) -> None:
    allowed = tuple(allowed)
    if info.dtype not in allowed:
        raise TypeError(
            f"{info.name} has dtype {info.dtype}; expected "
            + (allowed[0] if len(allowed) == 1 else "one of " + ", ".join(allowed))
        )


def expect_shape(info: TensorInfo, shape: tuple, what: str = "") -> None:
    """shape entries may be None (any size)."""
    if info.shape == shape:
        return
    ok = len(info.shape) == len(shape) and all(
        want is None or got == want for got, want in zip(info.shape, shape, strict=True)
    )
    if not ok:
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        extra = f" ({what})" if what else ""
        raise ValueError(f"{info.name} has shape {list(info.shape)}; expected {want}{extra}")


def expect_contiguous(info: TensorInfo) -> None:
    if not info.is_contiguous():
        raise ValueError(
            f"{info.name} must be contiguous (row-major); got shape {list(info.shape)} with "
            f"strides {list(info.strides)} (call .contiguous())"
        )


def expect_aligned(info: TensorInfo, alignment: int = 16) -> None:
    if info.ptr % alignment:
        raise ValueError(
            f"{info.name} must start at a {alignment}-byte aligned address; its data pointer "
            f"{info.ptr:#x} is not (slice offsets must keep {alignment}-byte alignment)"
        )


def same_device(infos) -> int | None:
    """The common device index of the given CUDA tensors (None if unknown); ValueError if mixed."""
    known = [
        (i.name, i.device_index) for i in infos if i is not None and i.device_index is not None
    ]
    indices = {d for _, d in known}
    if len(indices) > 1:
        desc = ", ".join(f"{n} on cuda:{d}" for n, d in known)
        raise ValueError(f"all tensors must be on the same CUDA device; got {desc}")
    return indices.pop() if indices else None
