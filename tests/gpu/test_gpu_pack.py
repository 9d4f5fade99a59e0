"""libmarlin's packers (marlin_pack_weights / marlin_pack_zero_points) equal the torch reference.

Bitwise: every checkpoint source layout, with and without an act-order permutation. A failure
here points at weight preparation, not at the GEMM kernel.
"""

import pytest

torch = pytest.importorskip("torch")

from marlin._prepare import _LibraryPacker  # noqa: E402
from seed import SEED  # noqa: E402

from marlin import quant  # noqa: E402

K, N = 1408, 2368

FORMATS = [
    ("gptq", {"bits": 4, "group_size": 128}),
    ("gptq", {"bits": 4, "group_size": 32, "act_order": True}),
    ("gptq", {"bits": 8, "group_size": 64}),
    ("gptq", {"bits": 8, "group_size": 128, "act_order": True}),
    ("awq", {"group_size": 64}),
    ("hqq", {"group_size": 64}),
    ("fp8", {"group_size": -1}),
    ("fp8", {"group_size": 128}),
    ("nvfp4", {}),
    ("mxfp4", {}),
]


def _ids():
    return [f"{f}-" + "-".join(f"{k}{v}" for k, v in kw.items()) for f, kw in FORMATS]


@pytest.mark.parametrize("fmt,kw", FORMATS, ids=_ids())
def test_prepare_library_equals_reference(fmt, kw):
    torch.manual_seed(SEED)
    q = quant.QUANTIZERS[fmt](torch.randn(K, N, device="cuda"), **kw)
    lib = q.prepare()
    ref = q.prepare(packer="reference")
    torch.cuda.synchronize()
    assert torch.equal(lib.b_q_weight, ref.b_q_weight), "b_q_weight differs from layout v2"
    for name in ("scales", "zeros", "g_idx", "perm", "global_scale"):
        x, y = getattr(lib, name), getattr(ref, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert torch.equal(x.view(torch.uint8), y.view(torch.uint8)), name


@pytest.mark.parametrize("bits", [4, 8])
def test_pack_weights_perm(bits):
    torch.manual_seed(SEED)
    codes = torch.randint(0, 2**bits, (K, N), device="cuda")
    src = quant.pack_along(codes, 0, bits)
    perm = torch.randperm(K, device="cuda").to(torch.int32)
    packer = _LibraryPacker(torch)
    got = packer.weights(src, (32, bits, 1, 0, 0), perm, K, N)
    torch.cuda.synchronize()
    assert torch.equal(quant.unpack_marlin_v2(got, bits, K, N), codes[perm.long()])


def test_pack_zero_points_awq():
    torch.manual_seed(SEED)
    groups = K // 64
    z = torch.randint(0, 16, (groups, N), device="cuda")
    packer = _LibraryPacker(torch)
    got = packer.zero_points(quant.pack_awq(z), (32, 4, 0, 0, 1), groups, N)
    torch.cuda.synchronize()
    assert got.shape == (groups, N // 8)
    assert torch.equal(quant.unpack_along(got, 1, 4), z)
