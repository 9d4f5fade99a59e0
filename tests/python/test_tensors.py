"""marlin._tensors: describing torch / DLPack / CUDA-array-interface objects; host rejection."""

import pytest
from fakes import FakeCudaArray
from fakes import FakeDLPack

from marlin import _tensors


def test_cai_contiguous():
    x = FakeCudaArray((4, 64), "float16")
    info = _tensors.describe_cuda(x, "a")
    assert info.shape == (4, 64)
    assert info.strides == (64, 1)
    assert info.dtype == "float16"
    assert info.ptr == x.ptr
    assert info.kind == "cai"
    assert info.is_contiguous()
    assert info.nbytes == 4 * 64 * 2


def test_cai_strided_and_unsupported_typestr():
    x = FakeCudaArray((4, 64), "int8", strides=(128, 1))
    info = _tensors.describe(x, "a")
    assert info.strides == (128, 1)
    assert not info.is_contiguous()
    y = FakeCudaArray((2, 2), "float16")
    y.__cuda_array_interface__["typestr"] = "<c8"
    with pytest.raises(TypeError, match="typestr"):
        _tensors.describe(y, "a")


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn", "float8_e8m0fnu", "int32", "uint8"])
def test_dlpack_object_cuda(dtype):
    x = FakeDLPack((3, 128), dtype, device_id=1)
    info = _tensors.describe_cuda(x, "a")
    assert info.dtype == dtype
    assert info.shape == (3, 128)
    assert info.strides == (128, 1)
    assert info.device_index == 1
    assert info.ptr == x.ptr
    assert info.kind == "dlpack"


def test_dlpack_capsule_without_strides():
    x = FakeDLPack((5, 8, 16), "float16", with_strides=False)
    info = _tensors.describe(x.capsule(), "a")
    assert info.strides == (128, 16, 1)
    assert info.device_type == "cuda"


@pytest.mark.parametrize("device_type,where", [(1, "CPU"), (3, "pinned host")])
def test_dlpack_host_rejected_before_export(device_type, where):
    x = FakeDLPack((2, 64), "float16", device_type=device_type)
    called = []
    x.__dlpack__ = lambda stream=None: called.append(1)  # must not be reached
    with pytest.raises(ValueError, match=f"a must be on a CUDA device, but it is a {where}"):
        _tensors.describe(x, "a")
    assert not called


def test_dlpack_host_capsule_rejected():
    x = FakeDLPack((2, 64), "float16", device_type=1)
    with pytest.raises(ValueError, match="CUDA device"):
        _tensors.describe_cuda(x.capsule(), "bias")


def test_unsupported_objects():
    with pytest.raises(TypeError, match=r"a must be a torch.Tensor, a DLPack .* got builtins.list"):
        _tensors.describe([1, 2, 3], "a")


def test_mixed_devices_rejected():
    a = _tensors.describe(FakeDLPack((2, 64), "float16", device_id=0), "a")
    b = _tensors.describe(FakeDLPack((64,), "float16", device_id=1), "bias")
    with pytest.raises(ValueError, match="same CUDA device.*a on cuda:0, bias on cuda:1"):
        _tensors.same_device([a, b])
    assert _tensors.same_device([a, None]) == 0


def test_torch_cpu_tensor_rejected():
    torch = pytest.importorskip("torch")
    t = torch.zeros(4, 64, dtype=torch.float16)
    info = _tensors.describe(t, "a")
    assert info.kind == "torch" and info.device_type == "cpu"
    assert info.strides == (64, 1) and info.dtype == "float16"
    with pytest.raises(ValueError, match=r"a must be on a CUDA device, but it is a CPU tensor"):
        _tensors.require_cuda(info)


def test_torch_dlpack_capsule_parsed():
    torch = pytest.importorskip("torch")
    t = torch.zeros(6, 32, dtype=torch.bfloat16)[:, 8:24]
    info = _tensors.describe(torch.utils.dlpack.to_dlpack(t), "a")
    assert info.dtype == "bfloat16"
    assert info.shape == (6, 16)
    assert info.strides == (32, 1)
    assert info.ptr == t.data_ptr()
    assert info.device_type == "cpu"


def test_torch_fp8_dtype_names():
    torch = pytest.importorskip("torch")
    for dt, name in [(torch.float8_e4m3fn, "float8_e4m3fn"), (torch.int8, "int8")]:
        t = torch.zeros(2, 2, dtype=dt)
        assert _tensors.describe(t, "a").dtype == name
        assert _tensors.describe(t.__dlpack__(), "a").dtype == name


def test_alignment_check():
    x = FakeCudaArray((2, 64), "float16", offset_bytes=2)
    with pytest.raises(ValueError, match="16-byte aligned"):
        _tensors.expect_aligned(_tensors.describe(x, "a"))
