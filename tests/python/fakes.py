"""Fake CUDA arrays for CPU tests: descriptions only, the pointers are never dereferenced."""

import ctypes

from marlin import _tensors

_CAI_TYPESTR = {
    "float16": "<f2",
    "float32": "<f4",
    "int8": "|i1",
    "uint8": "|u1",
    "int32": "<i4",
    "int64": "<i8",
}
_DL_CODES = {v: k for k, v in _tensors.DL_DTYPES.items()}

_next_ptr = [0x7F0000000000]


def fake_ptr(nbytes: int, offset: int = 0) -> int:
    """Distinct 256-byte aligned fake device addresses."""
    p = _next_ptr[0]
    _next_ptr[0] += (nbytes + 511) // 256 * 256
    return p + offset


def _c_strides(shape):
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


class FakeCudaArray:
    """An object exposing __cuda_array_interface__ (v3) for a fake device pointer."""

    def __init__(self, shape, dtype="float16", strides=None, ptr=None, offset_bytes=0):
        self.shape = tuple(shape)
        self.dtype = dtype
        item = _tensors.ITEMSIZE[dtype]
        self.elem_strides = tuple(strides) if strides is not None else _c_strides(self.shape)
        span = sum((d - 1) * s for d, s in zip(self.shape, self.elem_strides, strict=True)) + 1
        self.ptr = (ptr if ptr is not None else fake_ptr(span * item)) + offset_bytes
        self.__cuda_array_interface__ = {
            "shape": self.shape,
            "typestr": _CAI_TYPESTR[dtype],
            "data": (self.ptr, False),
            "strides": None if strides is None else tuple(s * item for s in self.elem_strides),
            "version": 3,
        }


_py = ctypes.pythonapi
_py.PyCapsule_New.restype = ctypes.py_object
_py.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_CAPSULE_NAME = ctypes.create_string_buffer(b"dltensor")


class FakeDLPack:
    """An object with __dlpack__/__dlpack_device__ describing a fake array on any device."""

    def __init__(
        self,
        shape,
        dtype="bfloat16",
        device_type=2,
        device_id=0,
        strides=None,
        ptr=None,
        with_strides=True,
    ):
        self.shape = tuple(shape)
        item = _tensors.ITEMSIZE[dtype]
        code, bits = _DL_CODES[dtype]
        n = len(self.shape)
        self._shape = (ctypes.c_int64 * max(n, 1))(*self.shape)
        st = tuple(strides) if strides is not None else _c_strides(self.shape)
        self._strides = (ctypes.c_int64 * max(n, 1))(*st)
        self.ptr = ptr if ptr is not None else fake_ptr(max(1, self._numel()) * item)
        self._managed = _tensors._DLManagedTensor()
        t = self._managed.dl_tensor
        t.data = self.ptr
        t.device.device_type = device_type
        t.device.device_id = device_id
        t.ndim = n
        t.dtype.code, t.dtype.bits, t.dtype.lanes = code, bits, 1
        t.shape = ctypes.cast(self._shape, ctypes.POINTER(ctypes.c_int64))
        t.strides = (
            ctypes.cast(self._strides, ctypes.POINTER(ctypes.c_int64)) if with_strides else None
        )
        t.byte_offset = 0
        self.device = (device_type, device_id)

    def _numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def capsule(self):
        return _py.PyCapsule_New(ctypes.addressof(self._managed), _CAPSULE_NAME, None)

    def __dlpack__(self, stream=None):
        return self.capsule()

    def __dlpack_device__(self):
        return self.device
