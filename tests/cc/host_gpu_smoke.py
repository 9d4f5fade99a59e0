"""GPU smoke test of libmarlin.so's C ABI (host library side), with torch as the reference.

Run on the GPU machine: python3 tests/cc/host_gpu_smoke.py [PATH/TO/libmarlin.so]
(default: $MARLIN_LIBRARY, else libmarlin.so next to the marlin package). The ctypes binding is
the package's own (marlin._lib, from python/ of this checkout or of the GPU bundle).
Needs a build with at least gptq_int4 (f16) for the GPU's arch. Checks: packer output bit for bit
against a torch model of layout v2, gemm against torch for several M (M loop), group sizes,
act-order (k full / not full), row-strided A, bias; and the error paths that need a GPU (host
pointers, bad perm, missing kernels, struct size, kernel_info range) plus no writes outside C and
NaN-scale isolation, which tests/gpu does not cover.
"""

import ctypes
import os
import sys

import torch

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(_ROOT, "python"))
if len(sys.argv) > 1:
    os.environ["MARLIN_LIBRARY"] = os.path.abspath(sys.argv[1])

from marlin._lib import CodeSource  # noqa: E402
from marlin._lib import GemmArgs  # noqa: E402

from marlin import _lib  # noqa: E402
from marlin import scalar_types as st  # noqa: E402

K_FLOAT16 = st.kFloat16.id
K_BFLOAT16 = st.kBFloat16.id
K_U4B8 = st.kU4B8.id
K_FE4M3FN = st.kFE4M3fn.id

lib = _lib.load()  # bound signatures of every C ABI function

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def last_error():
    return _lib.last_error(lib)


def pack_bits(codes, bits):
    """codes [..., pack] -> int32 [...]: code j at bits j*bits, LSB first."""
    pack = 32 // bits
    shifts = torch.arange(pack, device=codes.device, dtype=torch.int64) * bits
    words = (codes.to(torch.int64) << shifts).sum(-1)
    return (words - ((words >> 31) & 1) * (1 << 32)).to(torch.int32)


def layout_v2(q, bits):
    """Torch model of design.md 9: q [K, N] codes -> int32 [K/16, N*16/pack]. Per 16x64 unit,
    lane L = 4g + t holds column 8j + g, rows 2t + par + 8hi, code slot q of its word w:
    4-bit: j = 2w + p // 2, hi = p % 2, par = q // 4 with p = q % 4; 8-bit: j = w, hi = q // 2,
    par = q % 2."""
    k, n = q.shape
    pack = 32 // bits
    lane_words = 4 if bits == 4 else 8
    lane, w, slot = torch.meshgrid(
        torch.arange(32), torch.arange(lane_words), torch.arange(pack), indexing="ij"
    )
    g, t = lane // 4, lane % 4
    if bits == 4:
        p = slot % 4
        j, hi, par = 2 * w + p // 2, p % 2, slot // 4
    else:
        j, hi, par = w, slot // 2, slot % 2
    rows = (2 * t + par + 8 * hi).reshape(-1).to(q.device)
    cols = (8 * j + g).reshape(-1).to(q.device)
    units = q.view(k // 16, 16, n // 64, 64).permute(0, 2, 1, 3)  # [K/16, N/64, 16, 64]
    stored = units[:, :, rows, cols].reshape(k // 16, n // 64, 32 * lane_words, pack)
    return pack_bits(stored, bits).reshape(k // 16, n * 16 // pack)


def gptq_qweight(q, bits):
    k, n = q.shape
    pack = 32 // bits
    return pack_bits(q.view(k // pack, pack, n).permute(0, 2, 1), bits).contiguous()


def pack_weights(qweight, k, n, bits, perm=None):
    src = CodeSource(ctypes.sizeof(CodeSource), qweight.data_ptr(), 32, bits, 1, 0, 0)
    out = torch.empty(k // 16, n * 16 * bits // 32, dtype=torch.int32, device="cuda")
    rc = lib.marlin_pack_weights(
        ctypes.byref(src),
        perm.data_ptr() if perm is not None else None,
        k,
        n,
        out.data_ptr(),
        torch.cuda.current_stream().cuda_stream,
    )
    return rc, out


def run_gemm(
    a,
    b,
    scales,
    m,
    n,
    k,
    *,
    lda=None,
    g_idx=None,
    perm=None,
    is_k_full=True,
    bias=None,
    a_type=K_FLOAT16,
    c_dtype=torch.float16,
    c=None,
    ws=None,
    tweak=None,
):
    act = perm is not None
    if c is None:
        c = torch.full((m, n), float("nan"), dtype=c_dtype, device="cuda")
    nbytes = lib.marlin_gemm_workspace_bytes(m, n, k, a_type, int(act))
    if ws is None:
        ws = torch.zeros(nbytes, dtype=torch.uint8, device="cuda")
    args = GemmArgs()
    args.struct_size = ctypes.sizeof(GemmArgs)
    args.a = a.data_ptr()
    args.lda = lda if lda is not None else k
    args.a_type = a_type
    args.c = c.data_ptr()
    args.c_type = K_FLOAT16 if c_dtype == torch.float16 else K_BFLOAT16
    args.b_q_weight = b.data_ptr()
    args.b_type = K_U4B8
    args.b_scales = scales.data_ptr()
    args.s_type = args.c_type
    args.num_groups = scales.shape[0]
    args.b_bias = bias.data_ptr() if bias is not None else None
    args.g_idx = g_idx.data_ptr() if g_idx is not None else None
    args.perm = perm.data_ptr() if perm is not None else None
    args.workspace = ws.data_ptr()
    args.workspace_bytes = ws.numel()
    args.size_m, args.size_n, args.size_k = m, n, k
    args.is_k_full = int(is_k_full)
    args.use_fp32_reduce = 1
    args.stream = torch.cuda.current_stream().cuda_stream
    if tweak is not None:
        tweak(args)
    rc = lib.marlin_gemm(ctypes.byref(args))
    return rc, c


def rel_err(x, ref):
    return ((x.float() - ref.float()).norm() / ref.float().norm()).item()


def main():
    torch.manual_seed(0)
    dev = torch.cuda.get_device_properties(0)
    print(
        f"device: {dev.name}, sm_{dev.major}{dev.minor}, abi {lib.marlin_abi_version()}, "
        f"{lib.marlin_num_kernels()} kernels"
    )
    info = (ctypes.c_int64 * 12)()
    check(lib.marlin_kernel_info(0, info) == 0 and info[4] in (128, 256), "marlin_kernel_info(0)")
    check(
        lib.marlin_kernel_info(10**6, info) == 1 and "outside" in last_error(),
        "marlin_kernel_info out of range: " + last_error(),
    )

    k, n = 1024, 2048
    q = torch.randint(0, 16, (k, n), dtype=torch.int32, device="cuda")
    qweight = gptq_qweight(q, 4)
    rc, packed = pack_weights(qweight, k, n, 4)
    check(rc == 0 and torch.equal(packed, layout_v2(q, 4)), "pack GPTQ int4 == torch model")
    q8 = torch.randint(0, 256, (k, n), dtype=torch.int32, device="cuda")
    rc, packed8 = pack_weights(gptq_qweight(q8, 8), k, n, 8)
    check(rc == 0 and torch.equal(packed8, layout_v2(q8, 8)), "pack GPTQ int8 == torch model")
    # AWQ: [K, N/8] along N, logical column j of a word in nibble [0,4,1,5,2,6,3,7][j].
    awq_slot = torch.tensor([0, 4, 1, 5, 2, 6, 3, 7], device="cuda")
    awq_codes = torch.empty(k, n // 8, 8, dtype=torch.int32, device="cuda")
    awq_codes[:, :, awq_slot] = q.view(k, n // 8, 8)
    awq = pack_bits(awq_codes, 4)
    src = CodeSource(ctypes.sizeof(CodeSource), awq.data_ptr(), 32, 4, 0, 0, 1)
    out = torch.empty_like(packed)
    rc = lib.marlin_pack_weights(ctypes.byref(src), None, k, n, out.data_ptr(), None)
    torch.cuda.synchronize()
    check(rc == 0 and torch.equal(out, packed), "pack AWQ int4 == GPTQ of the same codes")
    # FP8-style [N, K] bytes.
    nk_bytes = q8.t().contiguous().to(torch.uint8)
    src = CodeSource(ctypes.sizeof(CodeSource), nk_bytes.data_ptr(), 8, 8, 1, 1, 0)
    out8 = torch.empty_like(packed8)
    rc = lib.marlin_pack_weights(ctypes.byref(src), None, k, n, out8.data_ptr(), None)
    torch.cuda.synchronize()
    check(rc == 0 and torch.equal(out8, packed8), "pack [N,K] bytes (FP8 layout)")
    # FP4-style [N, K/2] bytes, low nibble first.
    qt = q.t().contiguous()
    fp4 = (qt[:, 0::2] | (qt[:, 1::2] << 4)).to(torch.uint8).contiguous()
    src = CodeSource(ctypes.sizeof(CodeSource), fp4.data_ptr(), 8, 4, 1, 1, 0)
    out4 = torch.empty_like(packed)
    rc = lib.marlin_pack_weights(ctypes.byref(src), None, k, n, out4.data_ptr(), None)
    torch.cuda.synchronize()
    check(rc == 0 and torch.equal(out4, packed), "pack [N,K/2] bytes (FP4 layout)")
    # Zero points: AWQ qzeros [G, N/8] -> [G, N/8] along N LSB first.
    groups = 8
    zq = torch.randint(0, 16, (groups, n), dtype=torch.int32, device="cuda")
    zc = torch.empty(groups, n // 8, 8, dtype=torch.int32, device="cuda")
    zc[:, :, awq_slot] = zq.view(groups, n // 8, 8)
    zsrc = CodeSource(ctypes.sizeof(CodeSource), pack_bits(zc, 4).data_ptr(), 32, 4, 0, 0, 1)
    zout = torch.empty(groups, n // 8, dtype=torch.int32, device="cuda")
    rc = lib.marlin_pack_zero_points(
        ctypes.byref(zsrc), groups, n, ctypes.c_void_p(zout.data_ptr()), None
    )
    torch.cuda.synchronize()
    check(
        rc == 0 and torch.equal(zout, pack_bits(zq.view(groups, n // 8, 8), 4)),
        "pack AWQ zero points",
    )
    bad_perm = torch.arange(k, dtype=torch.int32, device="cuda")
    bad_perm[5] = 3
    rc, _ = pack_weights(qweight, k, n, 4, perm=bad_perm)
    check(rc == 1 and "appears twice" in last_error(), "bad perm: " + last_error())

    # GEMM, channelwise and group 128, several M (the M loop), vs torch.
    for group in (-1, 128):
        num_groups = 1 if group == -1 else k // group
        scales = (torch.rand(num_groups, n, device="cuda") * 0.02 + 0.005).half()
        rows = torch.arange(k, device="cuda") // (k if group == -1 else group)
        w = ((q - 8).float() * scales.float()[rows]).half()
        for m in (1, 5, 8, 16, 33, 64, 200, 1100):
            a = torch.randn(m, k, device="cuda").half()
            rc, c = run_gemm(a, packed, scales, m, n, k)
            torch.cuda.synchronize()
            ref = a.float() @ w.float()
            err = rel_err(c, ref) if rc == 0 else float("nan")
            check(
                rc == 0 and err < 2e-3,
                f"gemm f16 group={group} m={m}: rc={rc} rel_err={err:.2e} "
                + (last_error() if rc else ""),
            )

    # Row-strided A, bias.
    scales = (torch.rand(k // 128, n, device="cuda") * 0.02 + 0.005).half()
    w = ((q - 8).float() * scales.float()[torch.arange(k, device="cuda") // 128]).half()
    m = 24
    big = torch.randn(m, k + 64, device="cuda").half()
    a = big[:, :k]
    bias = torch.randn(n, device="cuda").half()
    rc, c = run_gemm(big, packed, scales, m, n, k, lda=k + 64, bias=bias)
    torch.cuda.synchronize()
    ref = a.float() @ w.float() + bias.float()
    err = rel_err(c, ref) if rc == 0 else float("nan")
    check(
        rc == 0 and err < 2e-3,
        f"gemm lda=k+64 with bias: rel_err={err:.2e} {last_error() if rc else ''}",
    )

    # Act-order: balanced groups in a random row order; perm = argsort(g_idx).
    gs = 128
    g_idx = (torch.arange(k, device="cuda") // gs)[torch.randperm(k, device="cuda")].to(torch.int32)
    perm = torch.argsort(g_idx).to(torch.int32)
    sorted_g_idx = g_idx[perm.long()].contiguous()
    scales = (torch.rand(k // gs, n, device="cuda") * 0.02 + 0.005).half()
    w = ((q - 8).float() * scales.float()[g_idx.long()]).half()  # checkpoint row order
    rc, packed_act = pack_weights(qweight, k, n, 4, perm=perm)
    check(rc == 0, "pack with perm " + (last_error() if rc else ""))
    for is_k_full in (True, False):
        for m in (3, 40):
            a = torch.randn(m, k, device="cuda").half()
            rc, c = run_gemm(
                a, packed_act, scales, m, n, k, g_idx=sorted_g_idx, perm=perm, is_k_full=is_k_full
            )
            torch.cuda.synchronize()
            err = rel_err(c, a.float() @ w.float()) if rc == 0 else float("nan")
            msg = last_error() if rc else ""
            # A build without group_blocks 0 kernels reports a missing kernel for K not full.
            ok = (rc == 0 and err < 2e-3) or (rc == 2 and not is_k_full and "group_blocks=0" in msg)
            check(ok, f"act-order is_k_full={is_k_full} m={m}: rc={rc} rel_err={err:.2e} {msg}")

    # Error paths that need the GPU.
    a = torch.randn(4, k, device="cuda").half()
    host_a = torch.randn(4, k).half()
    rc, _ = run_gemm(host_a, packed, scales, 4, n, k)
    check(rc == 1 and "is host memory" in last_error(), "host a: " + last_error())
    pinned = torch.randn(4, k).half().pin_memory()
    rc, _ = run_gemm(pinned, packed, scales, 4, n, k)
    check(rc == 1 and "pinned host memory" in last_error(), "pinned a: " + last_error())
    # bf16: runs where the build has the bf16 kernels, else names the missing scheme.
    a_bf16 = a.bfloat16()
    scales_bf16 = scales.bfloat16()
    rc, c = run_gemm(
        a_bf16,
        packed,
        scales_bf16,
        4,
        n,
        k,
        c_dtype=torch.bfloat16,
        tweak=lambda g: setattr(g, "a_type", K_BFLOAT16),
    )
    torch.cuda.synchronize()
    if rc == 0:
        w_bf16 = (q - 8).float() * scales_bf16.float()[torch.arange(k, device="cuda") // 128]
        err = rel_err(c, a_bf16.float() @ w_bf16)
        check(err < 1e-2, f"gemm bf16 group=128 m=4: rel_err={err:.2e}")
    else:
        check(
            rc == 2 and "build scheme gptq_int4" in last_error(), f"bf16: rc={rc} " + last_error()
        )
    rc, _ = run_gemm(
        a, packed, scales, 4, n, k, a_type=K_FE4M3FN, tweak=lambda g: setattr(g, "a_scales", g.a)
    )
    check(rc in (0, 2), f"fp8 activations: rc={rc} " + last_error())
    rc, _ = run_gemm(a, packed, scales, 4, n, k, tweak=lambda g: setattr(g, "struct_size", 8))
    check(rc == 1 and "struct_size" in last_error(), "struct size: " + last_error())
    rc, _ = run_gemm(a, packed, scales, 4, n, k + 16)
    check(rc == 1, "k=1040 (not a multiple of 64): " + last_error())
    # Nothing written outside C: guard rows around C stay untouched.
    guard = torch.full((4 + 2 * 64, n), 7.0, dtype=torch.float16, device="cuda")
    rc, _ = run_gemm(a, packed, scales, 4, n, k, c=guard[64:68])
    torch.cuda.synchronize()
    check(
        rc == 0 and bool((guard[:64] == 7).all()) and bool((guard[68:] == 7).all()),
        "no writes outside C",
    )
    # NaN scales propagate to the affected columns only.
    nan_scales = scales.clone()
    nan_scales[0, 5] = float("nan")
    rc, c = run_gemm(a, packed, nan_scales, 4, n, k)
    torch.cuda.synchronize()
    check(
        rc == 0 and bool(c[:, 5].isnan().all()) and not bool(c[:, 6:].isnan().any()),
        "NaN scale -> NaN in its column only",
    )

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
