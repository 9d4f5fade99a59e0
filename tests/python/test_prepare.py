"""marlin.prepare_weights on the CPU: argument checks and the whole Python pipeline.

With packer="reference" (the torch twin of marlin_pack_weights), prepared weights are decoded
with the kernel's semantics (quant.reference_gemm) and must reproduce A @ w_ref exactly: this
checks the checkpoint conventions, scale/zero transposes and act-order handling without a GPU.
"""

import pytest

torch = pytest.importorskip("torch")

import marlin  # noqa: E402
from marlin import _lib  # noqa: E402
from marlin import quant  # noqa: E402
from marlin import scalar_types as st  # noqa: E402

PIPELINE = [
    ("gptq", {"bits": 4, "group_size": 128}, {}, "gptq_int4", st.kU4B8),
    ("gptq", {"bits": 4, "group_size": -1}, {}, "gptq_int4", st.kU4B8),
    ("gptq", {"bits": 4, "group_size": 32, "act_order": True}, {}, "gptq_int4", st.kU4B8),
    ("gptq", {"bits": 8, "group_size": 64, "act_order": True}, {}, "gptq_int8", st.kU8B128),
    ("gptq", {"bits": 8, "group_size": 128, "dtype": "bfloat16"}, {}, "gptq_int8", st.kU8B128),
    ("gptq", {"bits": 4, "group_size": 64}, {"activation": "int8"}, "gptq_int4_a_int8", st.kU4B8),
    ("gptq", {"bits": 4, "group_size": -1}, {"activation": "fp8"}, "gptq_int4_a_fp8", st.kU4B8),
    ("awq", {"group_size": 128}, {}, "awq_int4", st.kU4),
    ("awq", {"group_size": 32, "dtype": torch.bfloat16}, {}, "awq_int4", st.kU4),
    ("awq", {"group_size": -1}, {"activation": "int8"}, "awq_int4_a_int8", st.kU4),
    ("hqq", {"group_size": 64}, {}, "hqq_int4", st.kU4),
    ("fp8", {"group_size": -1}, {}, "fp8", st.kFE4M3fn),
    ("fp8", {"group_size": 128, "dtype": torch.bfloat16}, {}, "fp8", st.kFE4M3fn),
    ("nvfp4", {}, {}, "nvfp4", st.kFE2M1f),
    ("mxfp4", {}, {}, "mxfp4", st.kFE2M1f),
    ("mxfp4", {}, {"activation": "fp8"}, "mxfp4_a_fp8", st.kFE2M1f),
]


def _ids(cases):
    return [f"{c[3]}-" + "-".join(f"{k}{v}" for k, v in c[1].items()) for c in cases]


@pytest.mark.parametrize("fmt,qkw,pkw,scheme,b_type", PIPELINE, ids=_ids(PIPELINE))
def test_pipeline_matches_reference(fmt, qkw, pkw, scheme, b_type):
    torch.manual_seed(1)
    k, n = 512, 192
    w = torch.randn(k, n)
    q = quant.QUANTIZERS[fmt](w, **qkw)
    pw = q.prepare(packer="reference", **pkw)
    assert pw.scheme == scheme
    assert pw.b_type == b_type
    assert (pw.size_k, pw.size_n) == (k, n)
    assert pw.b_q_weight.shape == (k // 16, n * 16 // pw.pack_factor)
    assert pw.scales.shape == (pw.num_groups, n) and pw.scales.is_contiguous()
    assert pw.has_act_order == bool(qkw.get("act_order"))
    if pw.has_act_order:
        assert pw.g_idx.dtype == torch.int32 and pw.perm.dtype == torch.int32
        assert bool((pw.g_idx[1:] >= pw.g_idx[:-1]).all())
    a = torch.randn(7, k)
    ref = a.double() @ q.w_ref.double()
    got = quant.reference_gemm(a, pw)
    torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-9)


def test_group_sizes_and_types():
    w = torch.randn(256, 128)
    pw = quant.quantize_gptq(w, group_size=64).prepare(packer="reference")
    assert (pw.group_size, pw.num_groups, pw.s_type) == (64, 4, st.kFloat16)
    pw = quant.quantize_gptq(w, group_size=-1).prepare(packer="reference", dtype="bfloat16")
    assert (pw.group_size, pw.num_groups, pw.s_type) == (-1, 1, st.kBFloat16)
    assert pw.scales.dtype == torch.bfloat16
    pw = quant.quantize_nvfp4(w).prepare(packer="reference")
    assert pw.s_type == st.kFE4M3fn and pw.scales.dtype == torch.float8_e4m3fn
    assert pw.global_scale.shape == (1,) and pw.global_scale.dtype == torch.float32
    pw = quant.quantize_mxfp4(w).prepare(packer="reference")
    assert pw.s_type == st.kFE8M0fnu and pw.scales.dtype == torch.uint8
    pw = quant.quantize_hqq(w).prepare(packer="reference")
    assert pw.is_zp_float and pw.zeros.shape == (4, 128) and pw.zeros.dtype == torch.float16


def test_trivial_g_idx_is_not_act_order():
    w = torch.randn(256, 64)
    q = quant.quantize_gptq(w, group_size=64, include_g_idx=True)
    assert "g_idx" in q.tensors
    pw = q.prepare(packer="reference")
    assert not pw.has_act_order
    forced = q.prepare(packer="reference", act_order=True)
    assert forced.has_act_order
    a = torch.randn(3, 256)
    torch.testing.assert_close(quant.reference_gemm(a, forced), quant.reference_gemm(a, pw))


def test_hqq_unpacked_codes_equal_packed():
    w = torch.randn(256, 128)
    q = quant.quantize_hqq(w)
    codes = quant.unpack_nibbles(q.tensors["qweight"]).to(torch.uint8)  # [N, K]
    packed = q.prepare(packer="reference")
    unpacked = marlin.prepare_weights(
        "hqq", qweight=codes, scales=q.tensors["scales"], zeros=q.tensors["zeros"],
        packer="reference",
    )  # fmt: skip
    assert torch.equal(packed.b_q_weight, unpacked.b_q_weight)


def test_fp8_per_tensor_scale():
    w = torch.randn(128, 64)
    q = quant.quantize_fp8(w)
    one = torch.tensor(0.5)
    pw = marlin.prepare_weights("fp8", weight=q.tensors["qweight"], scales=one, packer="reference")
    assert pw.num_groups == 1 and pw.scales.shape == (1, 64)
    assert bool((pw.scales == 0.5).all())


def test_nvfp4_python_float_global_scale():
    q = quant.quantize_nvfp4(torch.randn(128, 64))
    t = dict(q.tensors, global_scale=float(q.tensors["global_scale"]))
    pw = marlin.prepare_weights("nvfp4", **t, packer="reference")
    assert pw.global_scale.tolist() == [float(q.tensors["global_scale"])]


# ---------------------------------------------------------------------------------------------
# errors


@pytest.fixture
def no_library(monkeypatch):
    def guard():
        raise AssertionError("libmarlin was loaded")

    monkeypatch.setattr(_lib, "load", guard)


@pytest.fixture(scope="module")
def gptq():
    return quant.quantize_gptq(torch.randn(256, 128), group_size=64, act_order=True).tensors


@pytest.mark.usefixtures("no_library")
class TestErrors:
    def test_cpu_tensors_rejected_for_library_packer(self, gptq):
        with pytest.raises(ValueError, match="qweight must be on a CUDA device, but it is a CPU"):
            marlin.prepare_weights("gptq", **gptq)

    def test_unknown_format(self):
        with pytest.raises(ValueError, match="format 'exl2' is not supported; valid: gptq, awq"):
            marlin.prepare_weights("exl2")

    def test_bad_activation(self, gptq):
        with pytest.raises(ValueError, match="activation 'int4' is not valid"):
            marlin.prepare_weights("gptq", **gptq, activation="int4")
        with pytest.raises(ValueError, match="activation='int8' is not supported for fp8"):
            marlin.prepare_weights("fp8", activation="int8")

    def test_8bit_activation_without_act_order(self, gptq):
        with pytest.raises(ValueError, match="does not support act-order"):
            marlin.prepare_weights("gptq", **gptq, activation="int8", packer="reference")

    def test_8bit_activation_needs_int4(self):
        t = quant.quantize_gptq(torch.randn(256, 128), bits=8).tensors
        with pytest.raises(ValueError, match="needs 4-bit gptq weights"):
            marlin.prepare_weights("gptq", **t, activation="int8", packer="reference")

    def test_gptq_shapes(self, gptq):
        bad = dict(gptq, scales=gptq["scales"][:, :64])
        with pytest.raises(ValueError, match=r"scales has shape \[4, 64\]; expected \[num_groups"):
            marlin.prepare_weights("gptq", **bad, packer="reference")
        bad = dict(gptq, g_idx=gptq["g_idx"][:128])
        with pytest.raises(ValueError, match=r"g_idx has shape \[128\]; expected \[256\]"):
            marlin.prepare_weights("gptq", **bad, packer="reference")
        bad = dict(gptq, qweight=gptq["qweight"].float())
        with pytest.raises(TypeError, match="qweight has dtype float32; expected int32"):
            marlin.prepare_weights("gptq", **bad, packer="reference")
        bad = dict(gptq, qweight=gptq["qweight"][:, :96], scales=gptq["scales"][:, :96])
        with pytest.raises(ValueError, match="size_n=96 .* must be a positive multiple of 64"):
            marlin.prepare_weights("gptq", **bad, packer="reference")

    def test_gptq_bad_g_idx(self, gptq):
        g = gptq["g_idx"].clone()
        g[0] = 7
        with pytest.raises(ValueError, match=r"g_idx values must lie in \[0, 4\)"):
            marlin.prepare_weights("gptq", **dict(gptq, g_idx=g), packer="reference")
        g = gptq["g_idx"].clone()
        g[-1] = -1
        with pytest.raises(ValueError, match=r"g_idx values must lie in \[0, 4\)"):
            marlin.prepare_weights("gptq", **dict(gptq, g_idx=g), packer="reference")
        g = gptq["g_idx"].clone()
        g[g == 1] = 0  # uneven groups: taken as an act-order K shard (test_act_order_shard_*)
        pw = marlin.prepare_weights("gptq", **dict(gptq, g_idx=g), packer="reference")
        assert not pw.is_k_full and pw.group_size == 0

    def test_awq_shapes(self):
        t = quant.quantize_awq(torch.randn(256, 128), group_size=64).tensors
        bad = dict(t, qzeros=t["qzeros"][:2])
        with pytest.raises(ValueError, match=r"qzeros has shape \[2, 16\]; expected \[4, 16\]"):
            marlin.prepare_weights("awq", **bad, packer="reference")
        with pytest.raises(ValueError, match="awq needs qweight"):
            marlin.prepare_weights(
                "awq", qweight=t["qweight"], scales=t["scales"], packer="reference"
            )

    def test_fp8_scale_shape(self):
        t = quant.quantize_fp8(torch.randn(256, 128)).tensors
        with pytest.raises(ValueError, match=r"scales has shape \[3, 2\]; expected \[128\]"):
            marlin.prepare_weights(
                "fp8", qweight=t["qweight"], scales=torch.ones(3, 2), packer="reference"
            )

    def test_fp4_checks(self):
        t = quant.quantize_nvfp4(torch.randn(256, 128)).tensors
        with pytest.raises(ValueError, match="nvfp4 needs global_scale"):
            marlin.prepare_weights(
                "nvfp4", qweight=t["qweight"], scales=t["scales"], packer="reference"
            )
        m = quant.quantize_mxfp4(torch.randn(256, 128)).tensors
        with pytest.raises(TypeError, match="scales has dtype float8_e4m3fn; expected one of"):
            marlin.prepare_weights(
                "mxfp4", qweight=m["qweight"], scales=t["scales"][:, :8], packer="reference"
            )
        with pytest.raises(ValueError, match="global_scale is only for nvfp4"):
            marlin.prepare_weights("mxfp4", **m, global_scale=1.0, packer="reference")

    def test_hqq_shape(self):
        t = quant.quantize_hqq(torch.randn(256, 128)).tensors
        with pytest.raises(ValueError, match=r"fits|expected \[128, 256\] \(codes\)"):
            marlin.prepare_weights(
                "hqq", **dict(t, qweight=t["qweight"][:, :100]), packer="reference"
            )

    def test_group_size_only_for_hqq(self, gptq):
        with pytest.raises(ValueError, match="group_size is derived from the scales"):
            marlin.prepare_weights("gptq", **gptq, group_size=64, packer="reference")


# ---------------------------------------------------------------------------------------------
# issue 8: nothing a checkpoint holds is dropped, nothing a kernel cannot run is accepted

K8, N8 = 512, 192


def _gemm_matches(pw, w_ref, k=K8, rows=5):
    a = torch.randn(rows, k)
    torch.testing.assert_close(
        quant.reference_gemm(a, pw), a.double() @ w_ref.double(), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("zero_offset", [1, 0])
@pytest.mark.parametrize("act_order", [False, True])
def test_gptq_asymmetric_qzeros_are_used(zero_offset, act_order):
    # prepare_weights("gptq", qzeros=...) dropped the zero points: wrong weights for sym=False.
    torch.manual_seed(2)
    q = quant.quantize_gptq(
        torch.randn(K8, N8) + 0.7, group_size=128, sym=False, act_order=act_order,
        zero_offset=zero_offset,
    )  # fmt: skip
    assert q.tensors["qzeros"].shape == (K8 // 128, N8 // 8)
    pw = q.prepare(packer="reference")
    assert pw.b_type == st.kU4 and pw.scheme == "awq_int4"
    assert pw.zeros is not None and pw.zeros.dtype == torch.int32
    assert pw.has_act_order == act_order and pw.is_k_full
    _gemm_matches(pw, q.w_ref)
    torch.testing.assert_close(quant.dequantize(q), q.w_ref)


def test_gptq_zero_offset_is_read_as_documented():
    # The same codes read with the other offset give other weights: the flag is not ignored.
    torch.manual_seed(3)
    q = quant.quantize_gptq(torch.randn(256, 128) + 0.5, group_size=64, sym=False)
    t = dict(q.tensors, zero_offset=0)  # v1 tensors read as gptq_v2: every zero one lower
    pw = marlin.prepare_weights("gptq", **t, packer="reference")
    a = torch.randn(3, 256)
    assert not torch.allclose(quant.reference_gemm(a, pw), a.double() @ q.w_ref.double())


def test_gptq_symmetric_qzeros_change_nothing():
    # AutoGPTQ writes qzeros for sym=True too (zeros 8 stored as 7 = 0x77777777).
    torch.manual_seed(4)
    q = quant.quantize_gptq(torch.randn(256, 128), group_size=64, include_qzeros=True)
    assert int(q.tensors["qzeros"][0, 0]) == 0x77777777
    pw = q.prepare(packer="reference")
    assert pw.b_type == st.kU4B8 and pw.zeros is None and pw.scheme == "gptq_int4"
    _gemm_matches(pw, q.w_ref, k=256)
    q8 = quant.quantize_gptq(torch.randn(256, 128), bits=8, group_size=64, include_qzeros=True)
    assert int(q8.tensors["qzeros"][0, 0]) == 0x7F7F7F7F
    assert q8.prepare(packer="reference").b_type == st.kU8B128


def test_gptq_asymmetric_8bit_is_refused():
    q = quant.quantize_gptq(torch.randn(256, 128), bits=8, group_size=64, sym=False)
    with pytest.raises(ValueError, match="asymmetric 8-bit GPTQ .* needs kU8 kernels"):
        q.prepare(packer="reference")


def test_gptq_zero_offset_checks():
    q = quant.quantize_gptq(torch.randn(256, 128), group_size=64)
    with pytest.raises(ValueError, match="zero_offset applies to qzeros"):
        q.prepare(packer="reference", zero_offset=0)
    with pytest.raises(ValueError, match="zero_offset=2"):
        q.prepare(packer="reference", zero_offset=2)
    f = quant.quantize_fp8(torch.randn(256, 128)).tensors
    with pytest.raises(ValueError, match="it is for gptq qzeros only"):
        marlin.prepare_weights("fp8", **f, zero_offset=1, packer="reference")


def _all_tensors(fmt):
    w = torch.randn(256, 128)
    q = quant.QUANTIZERS[fmt](w)
    extra = {
        "qzeros": torch.zeros(4, 16, dtype=torch.int32),
        "zeros": torch.zeros(128, 4, dtype=torch.float16),
        "g_idx": torch.zeros(256, dtype=torch.int32),
        "global_scale": torch.tensor(1.0),
    }
    return q.tensors, extra


UNUSED = [
    ("gptq", "zeros"),
    ("gptq", "global_scale"),
    ("awq", "zeros"),
    ("awq", "g_idx"),
    ("awq", "global_scale"),
    ("hqq", "qzeros"),
    ("hqq", "g_idx"),
    ("fp8", "zeros"),
    ("fp8", "qzeros"),
    ("fp8", "g_idx"),
    ("fp8", "global_scale"),
    ("nvfp4", "zeros"),
    ("nvfp4", "qzeros"),
    ("nvfp4", "g_idx"),
    ("mxfp4", "zeros"),
    ("mxfp4", "qzeros"),
    ("mxfp4", "g_idx"),
    ("mxfp4", "global_scale"),
]


@pytest.mark.parametrize("fmt,name", UNUSED, ids=[f"{f}-{n}" for f, n in UNUSED])
def test_tensor_a_format_cannot_use_is_an_error(fmt, name):
    # prepare_weights("fp8", zeros=...) dropped them silently.
    tensors, extra = _all_tensors(fmt)
    with pytest.raises(ValueError, match=rf"{name} is not used by {fmt} \(it reads"):
        marlin.prepare_weights(fmt, **dict(tensors, **{name: extra[name]}), packer="reference")


def test_hqq_codes_above_15_are_refused():
    q = quant.quantize_hqq(torch.randn(256, 128))
    codes = quant.unpack_nibbles(q.tensors["qweight"]).to(torch.uint8)
    codes[3, 5] = 17  # was masked to 1
    with pytest.raises(ValueError, match=r"qweight holds codes in \[0, 17\]; HQQ 4-bit codes"):
        marlin.prepare_weights(
            "hqq", qweight=codes, scales=q.tensors["scales"], zeros=q.tensors["zeros"],
            packer="reference",
        )  # fmt: skip
    codes = codes.to(torch.int16)
    codes[3, 5] = -1
    with pytest.raises(ValueError, match=r"codes in \[-1, 15\]"):
        marlin.prepare_weights(
            "hqq", qweight=codes, scales=q.tensors["scales"], zeros=q.tensors["zeros"],
            packer="reference",
        )  # fmt: skip


NONFINITE = [
    ("gptq", "scales", float("nan")),
    ("awq", "scales", float("inf")),
    ("hqq", "scales", float("-inf")),
    ("hqq", "zeros", float("nan")),
    ("fp8", "scales", float("nan")),
    ("fp8", "qweight", float("nan")),  # e4m3fn NaN code 0x7F: would decode as a finite value
    ("nvfp4", "scales", float("nan")),
    ("nvfp4", "global_scale", float("nan")),
    ("mxfp4", "scales", None),  # e8m0 code 255
]


@pytest.mark.parametrize("fmt,name,value", NONFINITE, ids=[f"{f}-{n}" for f, n, _ in NONFINITE])
def test_nonfinite_scales_are_refused(fmt, name, value):
    q = quant.QUANTIZERS[fmt](torch.randn(256, 128))
    t = dict(q.tensors)
    bad = t[name].clone()
    if value is None:
        bad.view(-1)[7] = 255
    elif bad.dtype == torch.float8_e4m3fn:
        bad = bad.contiguous()
        bad.view(torch.uint8).view(-1)[7] = 0x7F  # e4m3fn NaN
    else:
        bad.view(-1)[bad.numel() // 2] = value
    t[name] = bad
    with pytest.raises(ValueError, match=rf"{name} holds 1 .* value\(s\), the first at index"):
        marlin.prepare_weights(fmt, **t, packer="reference")
    pw = marlin.prepare_weights(fmt, **t, packer="reference", check_finite=False)  # kept
    assert pw.size_k == 256


def test_nvfp4_python_float_nan_global_scale_is_refused():
    t = dict(quant.quantize_nvfp4(torch.randn(128, 64)).tensors, global_scale=float("nan"))
    with pytest.raises(ValueError, match="global_scale is nan"):
        marlin.prepare_weights("nvfp4", **t, packer="reference")


def test_group_size_without_kernels_is_refused_at_prepare():
    # Group size 8 was accepted here and refused only by the library, at gemm time.
    w = torch.randn(256, 128)
    q = quant.quantize_gptq(w, group_size=8)
    with pytest.raises(
        ValueError,
        match=r"group size 8 \(size_k=256 / 32 scales rows\): scheme gptq_int4 has kernels for "
        r"group sizes channelwise \(one group\), act-order K shards \(rows grouped by g_idx\), "
        r"32, 64, 128 only",
    ):
        q.prepare(packer="reference")
    q = quant.quantize_gptq(w, group_size=16)
    with pytest.raises(ValueError, match="scheme gptq_int4 has kernels"):
        q.prepare(packer="reference")
    a = quant.quantize_awq(w, group_size=16)
    with pytest.raises(ValueError, match="group size 16 .* scheme awq_int4 has kernels for group"):
        a.prepare(packer="reference")
    f = quant.quantize_fp8(w, group_size=64)
    with pytest.raises(ValueError, match="scheme fp8 has kernels for group sizes channelwise"):
        f.prepare(packer="reference")


def test_hqq_group_size_48_is_refused():
    q = quant.quantize_hqq(torch.randn(384, 128), group_size=48)
    with pytest.raises(
        ValueError, match="group_size=48: scheme hqq_int4 has kernels for .* 64 only"
    ):
        q.prepare(packer="reference")


def test_one_group_g_idx_out_of_range_is_refused():
    # A one-group g_idx was never looked at.
    q = quant.quantize_gptq(torch.randn(256, 128), group_size=-1, include_g_idx=True)
    g = q.tensors["g_idx"].clone()
    g[9] = 3
    with pytest.raises(ValueError, match=r"g_idx values must lie in \[0, 1\)"):
        marlin.prepare_weights("gptq", **dict(q.tensors, g_idx=g), packer="reference")


def test_act_order_false_with_a_real_g_idx_is_refused():
    q = quant.quantize_gptq(torch.randn(256, 128), group_size=64, act_order=True)
    with pytest.raises(ValueError, match="act_order=False but g_idx is not the trivial"):
        q.prepare(packer="reference", act_order=False)


def test_mixed_devices_are_refused():
    q = quant.quantize_gptq(torch.randn(256, 128), group_size=64)
    meta = q.tensors["scales"].to("meta")
    with pytest.raises(
        ValueError, match="all tensors of one weight must be on one device; got qweight on cpu, "
        "scales on meta",
    ):  # fmt: skip
        marlin.prepare_weights("gptq", **dict(q.tensors, scales=meta), packer="reference")
    with pytest.raises(ValueError, match="qweight is a meta tensor"):
        marlin.prepare_weights(
            "gptq", **dict(q.tensors, qweight=q.tensors["qweight"].to("meta"), scales=meta),
            packer="reference",
        )  # fmt: skip


def test_numpy_input_with_the_reference_packer():
    # Was refused with "must be on a CUDA device" although the reference packer runs on the CPU.
    q = quant.quantize_gptq(torch.randn(256, 128), group_size=64, act_order=True)
    as_numpy = {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in q.tensors.items()}
    pw = marlin.prepare_weights("gptq", **as_numpy, packer="reference")
    ref = q.prepare(packer="reference")
    assert torch.equal(pw.b_q_weight, ref.b_q_weight) and torch.equal(pw.perm, ref.perm)
    with pytest.raises(ValueError, match="qweight must be on a CUDA device"):
        marlin.prepare_weights("gptq", **as_numpy)  # the library packer still needs the GPU


# --- act-order K shards (row-parallel tensor parallelism)


def _shard(q, lo, hi):
    """Rows [lo, hi) of an act-order GPTQ checkpoint, every scales row kept (as vLLM does)."""
    bits = q.tensors["bits"]
    pack = 32 // bits
    return dict(
        q.tensors,
        qweight=q.tensors["qweight"][lo // pack : hi // pack].contiguous(),
        g_idx=q.tensors["g_idx"][lo:hi].contiguous(),
    )


@pytest.mark.parametrize("bits", [4, 8])
def test_act_order_shard_is_prepared_for_is_k_full_false(bits):
    # Refused before with "every group must hold exactly size_k/num_groups = 64 rows" while
    # the group size is 128.
    torch.manual_seed(5)
    k, n = 1024, 128
    q = quant.quantize_gptq(torch.randn(k, n), bits=bits, group_size=128, act_order=True)
    t = _shard(q, 0, k // 2)
    pw = marlin.prepare_weights("gptq", **t, packer="reference")
    assert (pw.size_k, pw.num_groups, pw.group_size, pw.is_k_full) == (k // 2, 8, 0, False)
    assert pw.has_act_order and pw.scales.shape == (8, n)
    g = t["g_idx"].to(torch.int64)
    assert torch.equal(pw.perm.to(torch.int64), torch.argsort(g, stable=True))
    assert torch.equal(pw.g_idx.to(torch.int64), torch.sort(g, stable=True).values)
    torch.testing.assert_close(pw.scales, q.tensors["scales"])
    a = torch.randn(6, k // 2)
    torch.testing.assert_close(
        quant.reference_gemm(a, pw), a.double() @ q.w_ref[: k // 2].double(), rtol=1e-9, atol=1e-9
    )


def test_act_order_shard_rows_need_not_divide_into_groups():
    # 11008 = 86 groups of 128 rows; a tensor-parallel shard of 16 ranks holds 688 rows.
    torch.manual_seed(6)
    k, n = 11008, 64
    q = quant.quantize_gptq(torch.randn(k, n), group_size=128, act_order=True)
    t = _shard(q, 688, 2 * 688)
    pw = marlin.prepare_weights("gptq", **t, packer="reference")
    assert (pw.size_k, pw.num_groups, pw.group_size, pw.is_k_full) == (688, 86, 0, False)
    a = torch.randn(3, 688)
    torch.testing.assert_close(
        quant.reference_gemm(a, pw), a.double() @ q.w_ref[688 : 2 * 688].double(), rtol=1e-9,
        atol=1e-9,
    )  # fmt: skip


def test_asymmetric_act_order_shard_is_refused():
    q = quant.quantize_gptq(torch.randn(1024, 128), group_size=128, act_order=True, sym=False)
    with pytest.raises(ValueError, match="act-order K shard .* scheme awq_int4 has kernels for"):
        marlin.prepare_weights("gptq", **_shard(q, 0, 512), packer="reference")


def test_scalar_parameters_are_type_checked():
    # Found by test_fuzz: tensors passed as bits / act_order / zero_offset / dtype raised
    # torch's "Boolean value of Tensor ... is ambiguous" (RuntimeError) instead of naming them.
    t = quant.quantize_gptq(torch.randn(256, 128), group_size=64).tensors
    for name in ("bits", "act_order", "zero_offset"):
        with pytest.raises(TypeError, match=rf"{name} must be a"):
            marlin.prepare_weights("gptq", **dict(t, **{name: torch.zeros(0)}), packer="reference")
    h = quant.quantize_hqq(torch.randn(256, 128)).tensors
    with pytest.raises(TypeError, match="dtype must be 'float16', 'bfloat16' or a torch dtype"):
        marlin.prepare_weights("hqq", **h, dtype=torch.zeros(0), packer="reference")
    with pytest.raises(TypeError, match="check_finite must be a bool"):
        marlin.prepare_weights("hqq", **h, check_finite=None, packer="reference")
