"""Independent vectors: checkpoint tensors written by hand by each public format's own convention.

test_prepare.py checks marlin.quant's quantizers against marlin's pipeline, both written here;
a convention misread on both sides would pass there. These tensors are hand-computed from the
formats' definitions (comments give the source of each rule), and the decoders below are plain
Python loops that share no code with marlin:

- GPTQ (AutoGPTQ / GPTQModel): qweight int32 [K/pack, N], row j column n holds codes
  k = pack*j .. pack*j + pack-1 of column n, k = pack*j at the lowest bits; value (q - 2^(b-1)) * s;
  qzeros int32 [G, N/pack], word j holds columns pack*j.. (lowest bits first), stored zero - 1.
- AWQ (AutoAWQ's pack: order_map [0, 2, 4, 6, 1, 3, 5, 7]): nibble i of a word holds column
  8j + order_map[i]; value (q - z) * s.
- e2m1 (OCP MX spec): 1 sign, 2 exponent (bias 1), 1 mantissa bit: 0, 0.5, 1, 1.5, 2, 3, 4, 6;
  two codes per byte, element 2i in the low nibble (NVFP4 / MXFP4 checkpoints).
- e8m0 (OCP MX spec): 2^(e - 127), 255 = NaN. e4m3fn: 1.0 = 0x38, 2.0 = 0x40, -1.0 = 0xB8.
- HQQ: (q - z) * s with float z, [N, K/2] nibbles, low nibble = even k.
"""

import math

import pytest

torch = pytest.importorskip("torch")

import marlin  # noqa: E402
from marlin import quant  # noqa: E402


def i32(word: int) -> int:
    """An unsigned 32-bit pattern as the int32 torch stores."""
    return word - (1 << 32) if word >= 1 << 31 else word


def weights_of(pw) -> torch.Tensor:
    """W [K, N] float64 in checkpoint row order, as marlin computes with it: I @ W."""
    return quant.reference_gemm(torch.eye(pw.size_k, dtype=torch.float64), pw)


E2M1 = {0: 0.0, 1: 0.5, 2: 1.0, 3: 1.5, 4: 2.0, 5: 3.0, 6: 4.0, 7: 6.0}


def e2m1(code: int) -> float:
    return (-1.0 if code & 8 else 1.0) * E2M1[code & 7]


# ---------------------------------------------------------------------------------------------
# hand-written checkpoints -> marlin


def test_gptq_int4_packing_along_k():
    k, n = 16, 64
    col0 = [1, 2, 3, 4, 5, 6, 7, 8, 15, 14, 13, 12, 11, 10, 9, 8]
    qweight = torch.full((k // 8, n), i32(0x88888888), dtype=torch.int32)  # code 8 = 0.0
    qweight[0, 0] = i32(0x87654321)  # k = 0..7 from the lowest nibble up
    qweight[1, 0] = i32(0x89ABCDEF)  # k = 8..15
    scales = torch.full((1, n), 0.5, dtype=torch.float16)
    scales[0, 0] = 2.0
    expected = torch.zeros(k, n, dtype=torch.float64)
    expected[:, 0] = torch.tensor([(c - 8) * 2.0 for c in col0], dtype=torch.float64)
    pw = marlin.prepare_weights("gptq", qweight=qweight, scales=scales, packer="reference")
    torch.testing.assert_close(weights_of(pw), expected, rtol=0, atol=0)
    torch.testing.assert_close(quant.dequantize_gptq(qweight, scales).double(), expected)


def test_gptq_int8_packing_along_k():
    k, n = 16, 64
    qweight = torch.full((k // 4, n), i32(0x80808080), dtype=torch.int32)  # code 128 = 0.0
    qweight[0, 0] = i32(0x007F8180)  # k = 0..3: codes 0x80, 0x81, 0x7F, 0x00
    scales = torch.ones(1, n, dtype=torch.float16)
    expected = torch.zeros(k, n, dtype=torch.float64)
    expected[:4, 0] = torch.tensor([0.0, 1.0, -1.0, -128.0], dtype=torch.float64)
    pw = marlin.prepare_weights("gptq", qweight=qweight, scales=scales, bits=8, packer="reference")
    torch.testing.assert_close(weights_of(pw), expected, rtol=0, atol=0)
    torch.testing.assert_close(quant.dequantize_gptq(qweight, scales, bits=8).double(), expected)


@pytest.mark.parametrize("zero_offset,stored", [(1, 2), (0, 3)])
def test_gptq_asymmetric_qzeros(zero_offset, stored):
    # Column 0 has zero point 3: stored as 2 by v1 writers (zero - 1), as 3 by gptq_v2.
    k, n = 16, 64
    qweight = torch.full((k // 8, n), i32(0x88888888), dtype=torch.int32)
    qweight[0, 0] = i32(0x76543210)  # k = 0..7: codes 0..7
    others = 0x88888888 - zero_offset * 0x11111111  # zero point 8 everywhere else
    qzeros = torch.full((1, n // 8), i32(others), dtype=torch.int32)
    qzeros[0, 0] = i32(others & ~0xF | stored)  # column 0 = lowest nibble
    scales = torch.ones(1, n, dtype=torch.float16)
    expected = torch.zeros(k, n, dtype=torch.float64)
    expected[:8, 0] = torch.tensor([c - 3.0 for c in range(8)], dtype=torch.float64)
    expected[8:, 0] = 8 - 3.0
    pw = marlin.prepare_weights(
        "gptq", qweight=qweight, scales=scales, qzeros=qzeros, zero_offset=zero_offset,
        packer="reference",
    )  # fmt: skip
    assert pw.scheme == "awq_int4"
    torch.testing.assert_close(weights_of(pw), expected, rtol=0, atol=0)
    got = quant.dequantize_gptq(qweight, scales, qzeros=qzeros, zero_offset=zero_offset)
    torch.testing.assert_close(got.double(), expected)


def test_awq_nibble_order():
    k, n = 16, 64
    qweight = torch.full((k, n // 8), i32(0x11111111), dtype=torch.int32)  # code 1 = zero
    # Columns 0..7 hold codes 0..7: nibble i holds column [0, 2, 4, 6, 1, 3, 5, 7][i].
    qweight[0, 0] = i32(0x75316420)
    qzeros = torch.full((1, n // 8), i32(0x11111111), dtype=torch.int32)  # every zero point 1
    scales = torch.full((1, n), 0.25, dtype=torch.float16)
    expected = torch.zeros(k, n, dtype=torch.float64)
    expected[0, :8] = torch.tensor([(c - 1) * 0.25 for c in range(8)], dtype=torch.float64)
    pw = marlin.prepare_weights(
        "awq", qweight=qweight, qzeros=qzeros, scales=scales, packer="reference"
    )
    torch.testing.assert_close(weights_of(pw), expected, rtol=0, atol=0)
    torch.testing.assert_close(quant.dequantize_awq(qweight, qzeros, scales).double(), expected)


def test_fp8_e4m3_weights():
    k, n = 16, 64
    qweight = torch.zeros(n, k, dtype=torch.uint8)  # [N, K] = [out, in]
    qweight[0, :5] = torch.tensor([0x38, 0x40, 0xB8, 0x3C, 0x01], dtype=torch.uint8)
    qweight[1, 2] = 0x48  # 4.0
    scales = torch.ones(n, dtype=torch.float16)
    scales[1] = 0.5
    expected = torch.zeros(k, n, dtype=torch.float64)
    expected[:5, 0] = torch.tensor([1.0, 2.0, -1.0, 1.5, 2.0**-9], dtype=torch.float64)
    expected[2, 1] = 2.0
    fp8 = qweight.view(torch.float8_e4m3fn)
    pw = marlin.prepare_weights("fp8", qweight=fp8, scales=scales, packer="reference")
    torch.testing.assert_close(weights_of(pw), expected, rtol=0, atol=0)
    torch.testing.assert_close(quant.dequantize_fp8(fp8, scales).double(), expected)


def test_nvfp4_e2m1_codes_and_nibble_order():
    k, n = 32, 64
    qweight = torch.zeros(n, k // 2, dtype=torch.uint8)
    qweight[0, 0] = 0x2F  # k = 0: low nibble 0xF = -6.0; k = 1: high nibble 0x2 = 1.0
    qweight[0, 1] = 0x91  # k = 2: 0x1 = 0.5; k = 3: 0x9 = -0.5
    qweight[0, 8] = 0x75  # k = 16: 0x5 = 3.0; k = 17: 0x7 = 6.0 (second scale group)
    scales = torch.full((n, k // 16), 0x38, dtype=torch.uint8)  # e4m3 1.0
    scales[0, 1] = 0x40  # e4m3 2.0
    expected = torch.zeros(k, n, dtype=torch.float64)
    expected[:4, 0] = torch.tensor([-6.0, 1.0, 0.5, -0.5], dtype=torch.float64) * 0.25
    expected[16:18, 0] = torch.tensor([3.0, 6.0], dtype=torch.float64) * 2.0 * 0.25
    s = scales.view(torch.float8_e4m3fn)
    pw = marlin.prepare_weights(
        "nvfp4", qweight=qweight, scales=s, global_scale=0.25, packer="reference"
    )
    torch.testing.assert_close(weights_of(pw), expected, rtol=0, atol=0)
    got = quant.dequantize_nvfp4(qweight, s, torch.tensor(0.25))
    torch.testing.assert_close(got.double(), expected)


def test_mxfp4_e8m0_scales():
    k, n = 64, 64
    qweight = torch.zeros(n, k // 2, dtype=torch.uint8)
    qweight[0, 0] = 0x32  # k = 0: 1.0; k = 1: 1.5
    qweight[0, 16] = 0xE4  # k = 32: 2.0; k = 33: -4.0
    scales = torch.full((n, k // 32), 127, dtype=torch.uint8)  # 2^0
    scales[0, 0] = 128  # 2^1
    scales[0, 1] = 125  # 2^-2
    expected = torch.zeros(k, n, dtype=torch.float64)
    expected[:2, 0] = torch.tensor([2.0, 3.0], dtype=torch.float64)
    expected[32:34, 0] = torch.tensor([0.5, -1.0], dtype=torch.float64)
    pw = marlin.prepare_weights("mxfp4", qweight=qweight, scales=scales, packer="reference")
    torch.testing.assert_close(weights_of(pw), expected, rtol=0, atol=0)
    torch.testing.assert_close(quant.dequantize_mxfp4(qweight, scales).double(), expected)


def test_hqq_float_zero_points():
    k, n = 64, 64
    qweight = torch.full((n, k // 2), 0x88, dtype=torch.uint8)
    qweight[0, 0] = 0xF0  # k = 0: 0; k = 1: 15
    scales = torch.ones(n, 1, dtype=torch.float16)
    scales[0, 0] = 0.5
    zeros = torch.full((n, 1), 8.0, dtype=torch.float16)
    zeros[0, 0] = 7.5
    expected = torch.zeros(k, n, dtype=torch.float64)
    expected[:, 0] = (8 - 7.5) * 0.5
    expected[:2, 0] = torch.tensor([(0 - 7.5) * 0.5, (15 - 7.5) * 0.5], dtype=torch.float64)
    pw = marlin.prepare_weights(
        "hqq", qweight=qweight, scales=scales, zeros=zeros, packer="reference"
    )
    torch.testing.assert_close(weights_of(pw), expected, rtol=0, atol=0)
    torch.testing.assert_close(quant.dequantize_hqq(qweight, scales, zeros).double(), expected)


def test_scalar_tables():
    assert tuple(e2m1(c) for c in range(16)) == quant.FP4_E2M1_VALUES
    x = torch.tensor([-6.0, 1.0, 0.5, -0.5, 3.0, 0.0, 6.0, -2.0])
    assert quant.encode_e2m1(x).tolist() == [0xF, 0x2, 0x1, 0x9, 0x5, 0x0, 0x7, 0xC]
    e = torch.tensor([0, 125, 127, 128, 254, 255], dtype=torch.uint8)
    got = quant.decode_e8m0(e).tolist()
    assert got[:5] == [2.0**-127, 0.25, 1.0, 2.0, 2.0**127] and math.isnan(got[5])
    f8 = torch.tensor([0x38, 0x40, 0xB8, 0x01, 0x7E], dtype=torch.uint8).view(torch.float8_e4m3fn)
    assert f8.float().tolist() == [1.0, 2.0, -1.0, 2.0**-9, 448.0]


# ---------------------------------------------------------------------------------------------
# marlin.quant's quantizers write the formats' conventions (decoded here by plain loops)


def _decode_gptq(qweight, scales, bits, qzeros=None, zero_offset=1):
    pack = 32 // bits
    mask = (1 << bits) - 1
    qw = (qweight.to(torch.int64) & 0xFFFFFFFF).tolist()
    k, n = len(qw) * pack, len(qw[0])
    g = k // scales.shape[0]
    s = scales.double().tolist()
    zw = None if qzeros is None else (qzeros.to(torch.int64) & 0xFFFFFFFF).tolist()
    out = torch.zeros(k, n, dtype=torch.float64)
    for kk in range(k):
        for nn in range(n):
            q = (qw[kk // pack][nn] >> (bits * (kk % pack))) & mask
            if zw is None:
                z = 1 << (bits - 1)
            else:
                z = ((zw[kk // g][nn // pack] >> (bits * (nn % pack))) + zero_offset) & mask
            out[kk, nn] = (q - z) * s[kk // g][nn]
    return out


def _decode_awq(qweight, qzeros, scales):
    order = [0, 2, 4, 6, 1, 3, 5, 7]  # nibble i holds column order[i]
    qw = (qweight.to(torch.int64) & 0xFFFFFFFF).tolist()
    zw = (qzeros.to(torch.int64) & 0xFFFFFFFF).tolist()
    k, n = len(qw), len(qw[0]) * 8
    g = k // scales.shape[0]
    s = scales.double().tolist()
    out = torch.zeros(k, n, dtype=torch.float64)
    for kk in range(k):
        for j in range(n // 8):
            for i in range(8):
                col = 8 * j + order[i]
                q = (qw[kk][j] >> (4 * i)) & 0xF
                z = (zw[kk // g][j] >> (4 * i)) & 0xF
                out[kk, col] = (q - z) * s[kk // g][col]
    return out


def _decode_fp4(qweight, scale_of):
    b = qweight.tolist()
    n, k = len(b), len(b[0]) * 2
    out = torch.zeros(k, n, dtype=torch.float64)
    for nn in range(n):
        for kk in range(k):
            code = (b[nn][kk // 2] >> (4 * (kk % 2))) & 0xF
            out[kk, nn] = e2m1(code) * scale_of(nn, kk)
    return out


@pytest.mark.parametrize("bits,sym", [(4, True), (8, True), (4, False)])
def test_quantize_gptq_writes_the_gptq_convention(bits, sym):
    torch.manual_seed(11)
    q = quant.quantize_gptq(torch.randn(64, 64), bits=bits, group_size=32, sym=sym)
    got = _decode_gptq(q.tensors["qweight"], q.tensors["scales"], bits, q.tensors.get("qzeros"))
    torch.testing.assert_close(got, q.w_ref.double())


def test_quantize_awq_writes_the_awq_convention():
    torch.manual_seed(12)
    q = quant.quantize_awq(torch.randn(64, 64), group_size=32)
    t = q.tensors
    torch.testing.assert_close(
        _decode_awq(t["qweight"], t["qzeros"], t["scales"]), q.w_ref.double()
    )


def test_quantize_fp4_write_the_e2m1_convention():
    torch.manual_seed(13)
    q = quant.quantize_nvfp4(torch.randn(64, 64))
    t = q.tensors
    s = t["scales"].float().tolist()
    gs = float(t["global_scale"])
    got = _decode_fp4(t["qweight"], lambda nn, kk: s[nn][kk // 16] * gs)
    torch.testing.assert_close(got, q.w_ref.double())
    q = quant.quantize_mxfp4(torch.randn(64, 64))
    e = q.tensors["scales"].tolist()
    got = _decode_fp4(q.tensors["qweight"], lambda nn, kk: 2.0 ** (e[nn][kk // 32] - 127))
    torch.testing.assert_close(got, q.w_ref.double())
