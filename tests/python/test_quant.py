"""marlin.quant on the CPU: code tables, packers (and their inverses), quantizer round trips."""

import pytest

torch = pytest.importorskip("torch")

from marlin import quant  # noqa: E402

FORMAT_CASES = [
    ("gptq", {"bits": 4, "group_size": 128}, 0.15),
    ("gptq", {"bits": 4, "group_size": -1}, 0.2),
    ("gptq", {"bits": 4, "group_size": 32, "act_order": True}, 0.15),
    ("gptq", {"bits": 8, "group_size": 64}, 0.01),
    ("gptq", {"bits": 8, "group_size": 128, "act_order": True}, 0.01),
    ("awq", {"group_size": 128}, 0.15),
    ("awq", {"group_size": -1}, 0.2),
    ("hqq", {"group_size": 64}, 0.15),
    ("fp8", {"group_size": -1}, 0.04),
    ("fp8", {"group_size": 128}, 0.04),
    ("nvfp4", {}, 0.12),
    ("mxfp4", {}, 0.15),
]


def _ids(cases):
    return [f"{f}-" + "-".join(f"{k}{v}" for k, v in kw.items()) for f, kw, *_ in cases]


def test_e2m1_table():
    codes = torch.arange(16)
    assert quant.decode_e2m1(codes).tolist() == [
        0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0,
    ]  # fmt: skip
    back = quant.encode_e2m1(quant.decode_e2m1(codes))
    assert back.tolist() == [*range(8), 0, *range(9, 16)]  # -0 encodes as +0


def test_e2m1_rounding_and_saturation():
    x = torch.tensor([0.2, 0.3, 0.8, 1.3, 2.4, 2.6, 3.6, 5.1, 100.0, -0.7, -4.9])
    assert quant.decode_e2m1(quant.encode_e2m1(x)).tolist() == [
        0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 6.0, -0.5, -4.0,
    ]  # fmt: skip


def test_e8m0_decode():
    e = torch.tensor([0, 1, 126, 127, 128, 254, 255], dtype=torch.uint8)
    v = quant.decode_e8m0(e)
    assert v[:6].tolist() == [2.0**-127, 2.0**-126, 0.5, 1.0, 2.0, 2.0**127]
    assert torch.isnan(v[6])


def test_awq_order_example():
    codes = torch.arange(8).reshape(1, 8)
    (word,) = quant.pack_awq(codes).tolist()[0]
    assert word == 0x75316420  # slot i holds column [0, 2, 4, 6, 1, 3, 5, 7][i]
    assert quant.unpack_awq(quant.pack_awq(codes)).tolist() == codes.tolist()


def test_awq_pack_inverse():
    codes = torch.randint(0, 16, (64, 256))
    packed = quant.pack_awq(codes)
    assert packed.dtype == torch.int32 and packed.shape == (64, 32)
    assert torch.equal(quant.unpack_awq(packed), codes)
    assert (packed < 0).any()  # high nibble >= 8 sets the sign bit


@pytest.mark.parametrize("bits", [4, 8])
def test_gptq_pack_inverse(bits):
    codes = torch.randint(0, 2**bits, (128, 64))
    packed = quant.pack_along(codes, 0, bits)
    assert packed.shape == (128 * bits // 32, 64) and packed.dtype == torch.int32
    assert torch.equal(quant.unpack_along(packed, 0, bits), codes)
    # word r holds rows r*pack .. r*pack+pack-1, LSB first
    pack = 32 // bits
    w = int(packed[1, 3]) & 0xFFFFFFFF
    for i in range(pack):
        assert (w >> (bits * i)) & (2**bits - 1) == codes[pack + i, 3]


def test_nibbles_inverse():
    codes = torch.randint(0, 16, (32, 64))
    b = quant.pack_nibbles(codes)
    assert b.dtype == torch.uint8 and b.shape == (32, 32)
    assert int(b[0, 0]) == int(codes[0, 0]) | int(codes[0, 1]) << 4
    assert torch.equal(quant.unpack_nibbles(b), codes)


@pytest.mark.parametrize("bits", [4, 8])
def test_layout_v2_fragments(bits):
    """Each lane's words hold its m16n8k16 B operands (design.md section 9), read the way the
    kernel reads them: lane 4g+t, column block j, rows (2t, 2t+1) and (2t+8, 2t+9) of column
    8j+g, the two rows of one operand in the low bits of the two 16-bit halves."""
    k, n = 48, 128
    codes = torch.randint(0, 2**bits, (k, n))
    b = quant.pack_marlin_v2(codes, bits)
    pack = 32 // bits
    assert b.shape == (k // 16, n * 16 // pack) and b.dtype == torch.int32
    words = b.to(torch.int64) & 0xFFFFFFFF
    lane_words = 4 if bits == 4 else 8
    mask = 2**bits - 1
    for slab in range(k // 16):
        for block in range(n // 64):
            unit = words[slab, block * 32 * lane_words : (block + 1) * 32 * lane_words]
            for lane in range(32):
                g, t = divmod(lane, 4)
                mine = [int(x) for x in unit[lane * lane_words : (lane + 1) * lane_words]]
                for j in range(8):
                    col = block * 64 + 8 * j + g
                    for upper, rows in ((0, (2 * t, 2 * t + 1)), (1, (2 * t + 8, 2 * t + 9))):
                        if bits == 4:  # operand = (word >> 4p) & 0x000F000F, p = 2 (j % 2) + upper
                            x = mine[j // 2] >> (4 * (2 * (j % 2) + upper))
                            got = (x & mask, (x >> 16) & mask)
                        else:  # operand = bytes (2 upper, 2 upper + 1) of word j
                            x = mine[j] >> (16 * upper)
                            got = (x & mask, (x >> 8) & mask)
                        want = tuple(int(codes[slab * 16 + r, col]) for r in rows)
                        assert got == want, (slab, block, lane, j, upper)
    assert torch.equal(quant.unpack_marlin_v2(b, bits, k, n), codes)


def test_layout_v2_needs_whole_units():
    with pytest.raises(ValueError, match="multiple of 64"):
        quant.pack_marlin_v2(torch.zeros(16, 32, dtype=torch.int64), 4)


def test_code_sources_decode():
    k, n = 64, 128
    c4 = torch.randint(0, 16, (k, n))
    c8 = torch.randint(0, 256, (k, n))
    gptq4 = quant.pack_along(c4, 0, 4)
    gptq8 = quant.pack_along(c8, 0, 8)
    awq = quant.pack_awq(c4)
    fp8 = c8.t().contiguous().to(torch.uint8)
    fp4 = quant.pack_nibbles(c4.t().contiguous())
    dec = quant.decode_code_source
    assert torch.equal(dec(gptq4, 32, 4, 1, 0, 0, k, n), c4)
    assert torch.equal(dec(gptq8, 32, 8, 1, 0, 0, k, n), c8)
    assert torch.equal(dec(awq, 32, 4, 0, 0, 1, k, n), c4)
    assert torch.equal(dec(fp8, 8, 8, 1, 1, 0, k, n), c8)
    assert torch.equal(dec(fp4, 8, 4, 1, 1, 0, k, n), c4)
    plain_n = quant.pack_along(c4, 1, 4)  # int32 [K, N/8] LSB-first along N
    assert torch.equal(dec(plain_n, 32, 4, 0, 0, 0, k, n), c4)


def test_reference_pack_with_perm():
    k, n = 64, 64
    c = torch.randint(0, 16, (k, n))
    perm = torch.randperm(k).to(torch.int32)
    b = quant.reference_pack_weights(quant.pack_along(c, 0, 4), 32, 4, 1, 0, 0, perm, k, n)
    assert torch.equal(quant.unpack_marlin_v2(b, 4, k, n), c[perm.long()])


def test_reference_pack_zero_points():
    z = torch.randint(0, 16, (4, 128))
    out = quant.reference_pack_zero_points(quant.pack_awq(z), 32, 4, 0, 0, 1, 4, 128)
    assert out.shape == (4, 16) and out.dtype == torch.int32
    assert torch.equal(quant.unpack_along(out, 1, 4), z)


@pytest.mark.parametrize("fmt,kw,tol", FORMAT_CASES, ids=_ids(FORMAT_CASES))
def test_round_trip(fmt, kw, tol):
    torch.manual_seed(0)
    w = torch.randn(512, 256)
    q = quant.QUANTIZERS[fmt](w, **kw)
    assert q.w_ref.shape == w.shape and q.w_ref.dtype == torch.float32
    assert torch.equal(quant.dequantize(q), q.w_ref)
    rel = ((q.w_ref - w).abs().mean() / w.abs().mean()).item()
    assert rel < tol, rel


def test_gptq_codes_and_act_order():
    w = torch.randn(256, 64)
    q = quant.quantize_gptq(w, bits=4, group_size=64, act_order=True)
    g_idx = q.tensors["g_idx"]
    assert g_idx.dtype == torch.int32 and g_idx.shape == (256,)
    assert torch.bincount(g_idx.long()).tolist() == [64] * 4
    assert not bool((g_idx[1:] >= g_idx[:-1]).all())  # really permuted
    codes = quant.unpack_along(q.tensors["qweight"], 0, 4)
    assert codes.min() >= 0 and codes.max() <= 15
    assert q.tensors["scales"].shape == (4, 64) and q.tensors["scales"].dtype == torch.float16


def test_awq_zero_points_in_range():
    w = torch.randn(256, 64) + 0.5
    q = quant.quantize_awq(w, group_size=64, dtype=torch.bfloat16)
    z = quant.unpack_awq(q.tensors["qzeros"])
    assert z.shape == (4, 64) and z.min() >= 0 and z.max() <= 15
    assert q.tensors["scales"].dtype == torch.bfloat16


def test_fp4_scales():
    w = torch.randn(256, 64)
    nv = quant.quantize_nvfp4(w)
    assert nv.tensors["scales"].dtype == torch.float8_e4m3fn
    assert nv.tensors["scales"].shape == (64, 16)
    assert nv.tensors["global_scale"].dtype == torch.float32
    mx = quant.quantize_mxfp4(w)
    assert mx.tensors["scales"].dtype == torch.uint8 and mx.tensors["scales"].shape == (64, 8)
    s = quant.decode_e8m0(mx.tensors["scales"])  # [N, K/32]
    blocks = w.t().reshape(64, 8, 32).abs().amax(-1)
    assert bool((blocks <= 8 * s).all()) and bool((blocks >= 4 * s).all())


def test_zero_weights():
    w = torch.zeros(64, 64)
    for fmt in ("gptq", "awq", "fp8", "nvfp4", "mxfp4"):
        kw = {"group_size": 32} if fmt in ("gptq", "awq") else {}
        q = quant.QUANTIZERS[fmt](w, **kw)
        assert torch.equal(q.w_ref, w), fmt
        assert not torch.isnan(quant.dequantize(q)).any()


@pytest.mark.parametrize("kind,tol", [("int8", 0.01), ("fp8", 0.04)])
def test_activation_quantizers(kind, tol):
    a = torch.randn(17, 256, dtype=torch.float16)
    a[3] = 0  # a zero row must not divide by zero
    fn = quant.quantize_activation_int8 if kind == "int8" else quant.quantize_activation_fp8
    q, s = fn(a)
    assert q.dtype == (torch.int8 if kind == "int8" else torch.float8_e4m3fn)
    assert s.shape == (17,) and s.dtype == torch.float32
    back = quant.dequantize_activation(q, s)
    rel = ((back - a.float()).abs().mean() / a.float().abs().mean()).item()
    assert rel < tol
    assert torch.equal(back[3], torch.zeros(256))
