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
        g[g == 1] = 0
        with pytest.raises(ValueError, match="every group must hold exactly"):
            marlin.prepare_weights("gptq", **dict(gptq, g_idx=g), packer="reference")

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
