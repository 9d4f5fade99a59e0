"""CPU tests of benchmarks/gemm_bench.py: everything but the timing (no GPU, nothing timed).

Outside Bazel: `python3 -m pytest tests/benchmarks -q` from the repository root.
"""

from __future__ import annotations

import json
import math
import os

import gemm_bench as gb
import pytest

BW = 4.236e12  # gpu.md's copy bandwidth of the baseline run
S = gb.SCHEMES


def fake_doc(card="NVIDIA H200, 132 SMs", rows=None, **header):
    h = {
        "card": card,
        "date": "2026-12-01 12:00 UTC",
        "commit": "abc1234",
        "command": "python3 benchmarks/gemm_bench.py --out-dir /out",
        "copy_bw_tbs": BW / 1e12,
        "dense_tflops": 790.0,
        "skipped": [],
        "failures": [],
    }
    h.update(header)
    return {"header": h, "rows": rows if rows is not None else []}


def headline_rows(m=1, k=4096, n=4096, marlin_us=20.0, humming_us=10.0, cublas_us=15.0):
    s = S[gb.HEADLINE]
    rows = [gb.make_row(s, k, n, m, "rules_marlin", marlin_us, BW, 790.0, replays=30)]
    if humming_us is not None:
        rows.append(gb.make_row(s, k, n, m, "humming", humming_us, BW, 790.0, replays=30))
    if cublas_us is not None:
        rows.append(gb.make_row(s, k, n, m, "cublas_fp16", cublas_us, BW, 790.0, replays=30))
    return rows


# --------------------------------------------------------------------------------------------
# command line


def test_parse_shapes_and_ms():
    assert gb.parse_shapes("4096x4096, 8192X28672") == [(4096, 4096), (8192, 28672)]
    assert gb.parse_ms("1,2,1024") == [1, 2, 1024]
    for bad in ("4096", "4096x", "axb", ""):
        with pytest.raises(ValueError):
            gb.parse_shapes(bad)
    for bad in ("0", "-1", "x", ""):
        with pytest.raises(ValueError):
            gb.parse_ms(bad)


def test_defaults_are_the_issue_matrix():
    assert gb.MS == (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)
    assert len(gb.SHAPES) == 7 and gb.SHAPES[0] == (4096, 4096) and gb.SHAPES[-1] == (28672, 8192)
    args = gb.resolve(gb.build_parser().parse_args([]), gb.build_parser())
    assert args.shape_list == list(gb.SHAPES)
    assert args.ms_list == list(gb.MS)
    assert args.scheme_list == list(S)
    assert args.out == "benchmarks/results/h200.json" and args.plots_dir == "benchmarks/results"
    assert args.rounds >= 2 and args.replays >= 30 and args.rotate_mb >= 200


def test_parse_schemes_aliases_and_errors():
    assert gb.parse_schemes("gptq_g128,gptq_cw,gptq_int4_g128") == [gb.HEADLINE, "gptq_int4_cw"]
    assert gb.parse_schemes("all") == list(S)
    with pytest.raises(ValueError, match="unknown scheme 'nope'"):
        gb.parse_schemes("gptq_int4_g128,nope")


def test_quick_defaults_and_explicit_flags_win():
    p = gb.build_parser()
    args = gb.resolve(p.parse_args(["--quick"]), p)
    assert args.shape_list == [(4096, 4096), (8192, 28672)]
    assert args.ms_list == [1, 16, 256]
    assert args.scheme_list[0] == gb.HEADLINE and len(args.scheme_list) == 3
    args = gb.resolve(p.parse_args(["--quick", "--ms", "2", "--schemes", "nvfp4"]), p)
    assert args.ms_list == [2] and args.scheme_list == ["nvfp4"]
    assert args.shape_list == [(4096, 4096), (8192, 28672)]


def test_output_paths():
    assert gb.output_paths("benchmarks/results/h200.json", "benchmarks/results", None) == (
        "benchmarks/results/h200.json",
        "benchmarks/results/h200.md",
        "benchmarks/results",
        "h200",
    )
    assert gb.output_paths("x/part1.json", "elsewhere", "/out") == (
        "/out/part1.json",
        "/out/part1.md",
        "/out",
        "part1",
    )


def test_command_line_quotes():
    assert gb.command_line(["--out-dir", "/a b", "--quick"]) == (
        "python3 benchmarks/gemm_bench.py --out-dir '/a b' --quick"
    )


# --------------------------------------------------------------------------------------------
# schemes, bytes, floor


def test_scheme_kernel_keys():
    h = S[gb.HEADLINE]
    assert (h.a_type, h.c_type, h.group_blocks, h.a_dtype) == ("kFloat16", "kFloat16", 8, "float16")
    bf = S["gptq_int4_g128_bf16"]
    assert (bf.a_type, bf.c_type, bf.cublas_kernel) == ("kBFloat16", "kBFloat16", "cublas_bf16")
    a8 = S["gptq_int4_a_int8_g128"]
    assert (a8.a_type, a8.c_type, a8.a_dtype, a8.a_elem_bytes) == ("kS8", "kFloat16", "int8", 1)
    assert S["mxfp4_a_fp8"].a_type == "kFE4M3fn" and S["mxfp4_a_fp8"].c_type == "kBFloat16"
    assert S["gptq_int4_cw"].group_blocks == -1
    assert [s.name for s in S.values() if s.humming] == [gb.HEADLINE, "gptq_int4_g128_bf16"]


def test_every_scheme_has_a_kernel_in_the_scheme_table():
    from marlin._generated import scheme_table as _scheme_table

    table = {r["name"]: r for r in _scheme_table.SCHEMES}
    for s in S.values():
        row = table[s.lib_scheme]
        assert s.a_type in row["a_types"], s.name
        assert s.c_type in row["c_types"], s.name
        assert s.group_blocks in row["group_blocks"], s.name


def _full_build():
    from marlin._generated import scheme_table as _scheme_table

    return {
        r["name"]: {
            (a, c, g) for a in r["a_types"] for c in r["c_types"] for g in r["group_blocks"]
        }
        for r in _scheme_table.SCHEMES
    }


def test_skip_reason():
    assert all(gb.skip_reason(s, _full_build()) is None for s in S.values())
    built = {"gptq_int4": {("kFloat16", "kFloat16", 8), ("kFloat16", "kFloat16", -1)}}
    assert gb.skip_reason(S[gb.HEADLINE], built) is None
    assert gb.skip_reason(S["gptq_int4_cw"], built) is None
    reason = gb.skip_reason(S["gptq_int4_g128_bf16"], built)
    assert "no kernel for a=kBFloat16 c=kBFloat16 group_blocks=8" in reason
    assert gb.skip_reason(S["awq_int4_g128"], built) == (
        "scheme awq_int4 not built in this libmarlin.so"
    )
    assert "not built" in gb.skip_reason(S["gptq_int4_a_fp8_g128"], {})


def test_weight_bytes():
    k = n = 4096
    assert gb.weight_bytes(S[gb.HEADLINE], k, n) == k * n // 2 + 32 * n * 2
    assert gb.weight_bytes(S["gptq_int4_cw"], k, n) == k * n // 2 + n * 2
    assert gb.weight_bytes(S["awq_int4_g128"], k, n) == k * n // 2 + 32 * n * 2 + 32 * n // 2
    assert gb.weight_bytes(S["hqq_int4_g64"], k, n) == k * n // 2 + 2 * 64 * n * 2
    assert gb.weight_bytes(S["gptq_int8_g128"], k, n) == k * n + 32 * n * 2
    assert gb.weight_bytes(S["fp8_cw"], k, n) == k * n + n * 2
    assert gb.weight_bytes(S["nvfp4"], k, n) == k * n // 2 + 256 * n + 4
    assert gb.weight_bytes(S["mxfp4"], k, n) == k * n // 2 + 128 * n


def test_moved_bytes():
    s = S[gb.HEADLINE]
    assert gb.moved_bytes(s, 4096, 4096, 16) == 8650752 + 2 * 16 * 4096 + 2 * 16 * 4096
    assert gb.moved_bytes(s, 4096, 4096, 16, "humming") == gb.moved_bytes(s, 4096, 4096, 16)
    assert gb.moved_bytes(s, 4096, 4096, 16, "cublas_fp16") == 2 * 4096 * 4096 + 4 * 16 * 4096
    a8 = S["gptq_int4_a_int8_g128"]
    assert gb.moved_bytes(a8, 4096, 4096, 16) == 8650752 + 16 * 4096 + 4 * 16 + 2 * 16 * 4096


@pytest.mark.parametrize(
    ("k", "n", "m", "published"),
    # gpu.md's baseline table (copy bandwidth 4.236 TB/s, 790 TFLOP/s), floor column.
    [
        (4096, 4096, 1, 2.0),
        (4096, 4096, 64, 2.7),
        (4096, 4096, 256, 10.9),
        (4096, 4096, 1024, 43.5),
        (8192, 28672, 1, 28.6),
        (8192, 28672, 64, 38.1),
        (28672, 8192, 1024, 608.9),
        (11008, 4096, 16, 5.6),
    ],
)
def test_floor_matches_gpu_md(k, n, m, published):
    assert gb.floor_us(S[gb.HEADLINE], k, n, m, BW, 790.0) == pytest.approx(published, abs=0.051)


def test_pct_copy_bw_and_make_row():
    assert gb.pct_copy_bw(4.236e6, BW, 2.0) == pytest.approx(50.0)
    s = S[gb.HEADLINE]
    row = gb.make_row(s, 4096, 4096, 1, "rules_marlin", 4.0, BW, 790.0, replays=30)
    assert [k for k in gb.ROW_KEYS] == list(row)[: len(gb.ROW_KEYS)]
    assert row["scheme"] == gb.HEADLINE and row["kernel"] == "rules_marlin" and row["replays"] == 30
    assert row["bytes"] == 8650752 + 4 * 4096
    assert row["pct_copy_bw"] == pytest.approx(100 * row["bytes"] / BW / 4e-6)
    assert row["floor_us"] == pytest.approx(2.046, abs=0.001)
    cb = gb.make_row(s, 4096, 4096, 1, "cublas_fp16", 13.6, BW, 790.0)
    assert cb["floor_us"] == row["floor_us"]  # the floor is the quantized kernel's
    assert cb["pct_copy_bw"] == pytest.approx(100 * (2 * 4096 * 4096 + 4 * 4096) / BW / 13.6e-6)


def test_upstream_reference_only_for_the_headline_on_h200():
    assert gb.upstream_us(gb.HEADLINE, 4096, 4096, 1) == 9.0
    assert gb.upstream_us(gb.HEADLINE, 28672, 8192, 1024) == 1302.4
    assert gb.upstream_us(gb.HEADLINE, 8192, 8192, 128) == 51.2
    assert gb.upstream_us(gb.HEADLINE, 4096, 4096, 2) is None
    assert gb.upstream_us(gb.HEADLINE, 4096, 4096, 1, card="NVIDIA H100 80GB HBM3") is None
    assert gb.upstream_us("gptq_int4_cw", 4096, 4096, 1) is None


def test_buffers_and_graph_plan():
    assert gb.n_buffers(200e6, 8650752) == 24
    assert gb.n_buffers(200e6, 470_000_000) == 1
    # fast calls over many buffers: one pass, all replays
    assert gb.graph_plan(10e-6, 24, 8, 30, 2.0) == (1, 30)
    # few buffers: passes until min_calls
    assert gb.graph_plan(1e-3, 2, 8, 30, 2.0) == (4, 30)
    # one slow pass: no extra passes
    assert gb.graph_plan(16e-3, 2, 8, 30, 2.0) == (1, 30)
    # very slow: replays capped by max_case_s, never under 10
    assert gb.graph_plan(0.2, 2, 8, 30, 2.0) == (1, 10)
    assert gb.graph_plan(0.04, 2, 8, 30, 2.0) == (1, 25)


# --------------------------------------------------------------------------------------------
# results: JSON, Markdown, merging


def test_document_schema():
    doc = fake_doc(rows=headline_rows())
    gb.validate_document(doc)
    text = json.dumps(doc)
    gb.validate_document(json.loads(text))
    for key in gb.HEADER_KEYS:
        bad = fake_doc(rows=headline_rows())
        del bad["header"][key]
        with pytest.raises(ValueError, match="header lacks"):
            gb.validate_document(bad)
    bad = fake_doc(rows=headline_rows())
    bad["rows"][0]["kernel"] = "upstream"
    with pytest.raises(ValueError, match="kernel 'upstream'"):
        gb.validate_document(bad)
    bad = fake_doc(rows=headline_rows())
    del bad["rows"][1]["floor_us"]
    with pytest.raises(ValueError, match="row 1 lacks"):
        gb.validate_document(bad)
    with pytest.raises(ValueError):
        gb.validate_document({"rows": []})


def _table_lines(md):
    return [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]


def test_markdown_table():
    rows = headline_rows(m=1) + headline_rows(m=16, marlin_us=8.0, humming_us=None, cublas_us=16.0)
    md = gb.markdown(fake_doc(rows=rows))
    assert "card: NVIDIA H200, 132 SMs; date: 2026-12-01 12:00 UTC; commit: abc1234" in md
    assert "copy bandwidth 4.236 TB/s" in md
    assert "command: `python3 benchmarks/gemm_bench.py --out-dir /out`" in md
    head, m1, m16 = _table_lines(md)
    assert "upstream us (gpu.md)" in head and "best peer / rules_marlin" in head
    cells = [c.strip() for c in m1.strip("|").split("|")]
    floor = f"{gb.floor_us(S[gb.HEADLINE], 4096, 4096, 1, BW, 790.0):.1f}"
    pct = f"{gb.pct_copy_bw(gb.moved_bytes(S[gb.HEADLINE], 4096, 4096, 1), BW, 20.0):.0f}%"
    assert cells == [
        gb.HEADLINE, "4096x4096", "1", "20.0", pct, "10.0", "15.0", floor, "9.0", "humming",
        "0.50x",
    ]  # fmt: skip
    cells = [c.strip() for c in m16.strip("|").split("|")]
    assert cells[5] == "-" and cells[6] == "16.0" and cells[8] == "9.6"
    assert cells[-2:] == ["cublas_fp16", "2.00x"]


def test_markdown_marks_failures_skips_and_few_replays():
    rows = headline_rows(m=1, humming_us=None)
    rows[1]["check_ok"] = False  # cuBLAS mismatch: kept, marked
    rows[1]["replays"] = 12
    failures = [
        {"scheme": gb.HEADLINE, "k": 4096, "n": 4096, "m": 4, "kernel": "rules_marlin",
         "what": "mean rel error 0.5 >= 0.01"},
    ]  # fmt: skip
    skipped = [{"scheme": "nvfp4", "reason": "scheme nvfp4 not built in this libmarlin.so"}]
    md = gb.markdown(fake_doc(card="NVIDIA H100", rows=rows, failures=failures, skipped=skipped))
    head, m1, m4 = _table_lines(md)
    assert "upstream" not in head  # no H200: gpu.md's upstream column does not apply
    assert "15.0 (wrong) (12 replays)" in m1
    assert m4.startswith(f"| {gb.HEADLINE} | 4096x4096 | 4 | FAIL |")
    assert "- skipped nvfp4: scheme nvfp4 not built in this libmarlin.so" in md
    assert "- rules_marlin gptq_int4_g128 4096x4096 M=4: mean rel error 0.5 >= 0.01" in md


def test_merge_documents():
    a = fake_doc(rows=headline_rows(m=1, marlin_us=20.0), skipped=[{"scheme": "x", "reason": "r"}])
    b = fake_doc(rows=headline_rows(m=1, marlin_us=18.0) + headline_rows(m=2), commit="def5678")
    merged = gb.merge_documents([a, b])
    gb.validate_document(merged)
    by = gb.rows_by_case(merged["rows"])
    assert set(by) == {(gb.HEADLINE, 4096, 4096, 1), (gb.HEADLINE, 4096, 4096, 2)}
    assert by[(gb.HEADLINE, 4096, 4096, 1)]["rules_marlin"]["us"] == 18.0
    assert [h["commit"] for h in merged["header"]["merged_from"]] == ["abc1234", "def5678"]
    assert merged["header"]["skipped"] == [{"scheme": "x", "reason": "r"}]
    assert gb.merge_documents([a]) == a
    with pytest.raises(ValueError):
        gb.merge_documents([])


def test_main_from_json_writes_json_and_md(tmp_path, capsys):
    src = tmp_path / "in.json"
    src.write_text(json.dumps(fake_doc(rows=headline_rows(m=1) + headline_rows(m=16))))
    out_dir = tmp_path / "out"
    rc = gb.main(["--from-json", str(src), "--out", "h200.json", "--out-dir", str(out_dir),
                  "--no-plots"])  # fmt: skip
    assert rc == 0
    assert sorted(os.listdir(out_dir)) == ["h200.json", "h200.md"]
    doc = json.loads((out_dir / "h200.json").read_text())
    gb.validate_document(doc)
    assert len(doc["rows"]) == 6
    md = (out_dir / "h200.md").read_text()
    assert md == gb.markdown(doc)
    assert capsys.readouterr().out.rstrip().endswith(md.splitlines()[-1])  # table printed last


def test_find_commit(tmp_path):
    assert gb.find_commit(str(tmp_path), {"MARLIN_COMMIT": "feedbee"}) == "feedbee"
    bundle = tmp_path / "bundle"
    (bundle / "benchmarks").mkdir(parents=True)
    (bundle / "COMMIT").write_text("1234abc-dirty\n")
    assert gb.find_commit(str(bundle / "benchmarks"), {}) == "1234abc-dirty"
    assert gb.find_commit(str(tmp_path), {"PATH": os.environ.get("PATH", "")}) == "unknown"


# --------------------------------------------------------------------------------------------
# plots


def test_plot_groups_fit_the_file_cap():
    groups = gb.plot_groups(list(S))
    names = [g for g, _ in groups]
    assert names[0] == gb.HEADLINE and groups[0][1] == [gb.HEADLINE]  # the headline alone
    assert sorted(s for _, ss in groups for s in ss) == sorted(S)  # every scheme exactly once
    assert len(groups) + 2 <= gb.MAX_OUTPUT_FILES  # json + md + PNGs
    assert all(len(ss) <= 3 for _, ss in groups)
    assert gb.plot_groups(["nvfp4", "unknown", gb.HEADLINE]) == [
        (gb.HEADLINE, [gb.HEADLINE]),
        ("fp8_fp4", ["nvfp4"]),
    ]
    assert gb.plot_path("benchmarks/results", "h200", gb.HEADLINE) == (
        "benchmarks/results/h200_gptq_int4_g128.png"
    )
    for g, _ in groups:  # names the GPU tool brings back: letters, digits, '.', '_', '-'
        assert all(
            c.isalnum() or c in "._-" for c in os.path.basename(gb.plot_path("d", "h200", g))
        )


def test_m_tick_labels():
    assert gb.m_tick_labels([1, 16, 256]) == ["1", "16", "256"]
    assert gb.m_tick_labels(list(gb.MS)) == ["1", "", "4", "", "16", "", "64", "", "256", "1024"]


def test_render_plots(tmp_path):
    pytest.importorskip("matplotlib")
    rows = []
    bw = BW
    for name in (gb.HEADLINE, "nvfp4", "mxfp4"):
        s = S[name]
        for k, n in gb.SHAPES[:2]:
            for m in (1, 16, 256):
                fl = gb.floor_us(s, k, n, m, bw, 790.0)
                rows.append(gb.make_row(s, k, n, m, "rules_marlin", 2 * fl, bw, 790.0))
                rows.append(gb.make_row(s, k, n, m, s.cublas_kernel, 3 * fl, bw, 790.0))
    paths = gb.render_plots(fake_doc(rows=rows), str(tmp_path), "h200")
    assert [os.path.basename(p) for p in paths] == ["h200_gptq_int4_g128.png", "h200_fp8_fp4.png"]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(p) < 2 * 2**20


# --------------------------------------------------------------------------------------------
# quantize + prepare + reference on the CPU (torch; the reference packer, no library)


@pytest.mark.parametrize("name", list(S))
def test_prepare_bytes_and_reference_on_cpu(name):
    torch = pytest.importorskip("torch")
    from marlin import quant

    s = S[name]
    k, n, m = 256, 128, 3
    q = gb.quantize(s, k, n, gb.seed_for(1, name), device="cpu")
    w = gb.prepare(s, q, packer="reference")
    assert w.scheme == s.lib_scheme
    assert gb.prepared_bytes(w) == gb.weight_bytes(s, k, n)
    assert gb.prepared_bytes(gb.clone_weights(w)) == gb.prepared_bytes(w)
    a16, a, a_s, a_ref = gb.make_activations(s, m, k, 7, device="cpu")
    assert a16.dtype == getattr(torch, s.dtype) and str(a.dtype) == "torch." + s.a_dtype
    assert (a_s is None) == (s.activation is None)
    # the benchmark's reference (A @ the quantizer's weights) == marlin.quant's kernel semantics
    ref = a_ref @ q.w_ref.double()
    lib_ref = quant.reference_gemm(a, w, a_scales=a_s)
    assert gb.rel_error(lib_ref, ref) < 1e-9
    assert gb.rel_error(ref.to(a16.dtype), ref) < 0.01  # the 16-bit output passes the tolerance


def test_rel_error():
    torch = pytest.importorskip("torch")
    ref = torch.tensor([[1.0, -2.0], [3.0, -4.0]], dtype=torch.float64)
    assert gb.rel_error(ref.clone(), ref) == 0.0
    assert gb.rel_error(ref * 1.1, ref) == pytest.approx(0.1)
    bad = ref.clone()
    bad[0, 0] = float("nan")
    assert math.isinf(gb.rel_error(bad, ref))


# --------------------------------------------------------------------------------------------
# the whole loop on the CPU: torch.cuda, marlin.gemm and Humming replaced by fakes (nothing is
# timed: the fake graph "takes" 1 ms per replay)


class _Clock:
    ms = 0.0


class _Event:
    def __init__(self, enable_timing=False):
        self.at = None

    def record(self):
        self.at = _Clock.ms

    def synchronize(self):
        pass

    def elapsed_time(self, end):
        return end.at - self.at


class _Stream:
    cuda_stream = 0

    def wait_stream(self, other):
        pass


class _Graph:
    def replay(self):
        _Clock.ms += 1.0


class _Props:
    name = "NVIDIA H200"
    multi_processor_count = 132


class _FakeHumming:
    """The Humming calls of gpu.md, computed with marlin.quant's GPTQ dequantizer."""

    calls = 0

    def __init__(self, shape_n, shape_k, torch_dtype, weight_config):
        assert weight_config == {
            "quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False, "sym": True,
        }  # fmt: skip
        self.dtype = torch_dtype

    def cuda(self):
        return self

    def load_from_tensors(self, tensors):
        self.tensors = tensors

    def transform(self):
        from marlin import quant

        self.w = quant.dequantize_gptq(self.tensors["qweight"], self.tensors["scales"])

    def __call__(self, a, outputs):
        _FakeHumming.calls += 1
        outputs.copy_((a.float() @ self.w).to(outputs.dtype))
        return outputs


def _fake_cuda(monkeypatch, wrong_m=None):
    torch = pytest.importorskip("torch")
    import contextlib

    import marlin
    from marlin import quant

    cuda = torch.cuda
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    monkeypatch.setattr(cuda, "get_device_properties", lambda i: _Props())
    monkeypatch.setattr(cuda, "synchronize", lambda: None)
    monkeypatch.setattr(cuda, "empty_cache", lambda: None)
    monkeypatch.setattr(cuda, "_sleep", lambda cycles: None, raising=False)
    monkeypatch.setattr(cuda, "Event", _Event)
    monkeypatch.setattr(cuda, "Stream", _Stream)
    monkeypatch.setattr(cuda, "current_stream", lambda *a: _Stream())
    monkeypatch.setattr(cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(cuda, "CUDAGraph", _Graph)
    monkeypatch.setattr(cuda, "graph", lambda g: contextlib.nullcontext())

    def gemm(a, w, a_scales=None, out=None, workspace=None):
        c = quant.reference_gemm(a, w, a_scales=a_scales)
        if a.shape[0] == wrong_m:
            c = -c
        out.copy_(c.to(out.dtype))
        return out

    monkeypatch.setattr(marlin, "gemm", gemm)
    monkeypatch.setattr(marlin, "built_schemes", _full_build)
    monkeypatch.setattr(marlin, "make_workspace", lambda *a, **kw: torch.zeros(16))
    monkeypatch.setattr(gb, "copy_bandwidth", lambda: 4.0e12)
    monkeypatch.setattr(gb, "one_call_s", lambda fn: 10e-6)  # no wall-clock timing in tests
    monkeypatch.setattr(gb, "humming_status", lambda: (_FakeHumming, "humming-kernels fake"))
    monkeypatch.setattr(gb, "DEVICE", "cpu")
    monkeypatch.setattr(gb, "PACKER", "reference")
    monkeypatch.setenv("MARLIN_COMMIT", "c0ffee1")


RUN_ARGS = ["--shapes", "256x128", "--ms", "1,16", "--rotate-mb", "0.2", "--no-plots"]


def test_main_with_fake_cuda(monkeypatch, tmp_path, capsys):
    _fake_cuda(monkeypatch)
    schemes = f"{gb.HEADLINE},gptq_int4_a_int8_g128,mxfp4"
    rc = gb.main([*RUN_ARGS, "--schemes", schemes, "--out-dir", str(tmp_path)])
    assert rc == 0
    doc = json.loads((tmp_path / "h200.json").read_text())
    gb.validate_document(doc)
    h = doc["header"]
    assert h["card"] == "NVIDIA H200, 132 SMs" and h["commit"] == "c0ffee1"
    assert h["copy_bw_tbs"] == 4.0 and h["humming"] == "humming-kernels fake"
    assert h["failures"] == [] and h["skipped"] == [] and not h["truncated"]
    assert h["command"].startswith("python3 benchmarks/gemm_bench.py --shapes 256x128")
    got = {(r["scheme"], r["m"], r["kernel"]) for r in doc["rows"]}
    want = set()
    for m in (1, 16):
        want |= {(gb.HEADLINE, m, k) for k in ("rules_marlin", "humming", "cublas_fp16")}
        want |= {("gptq_int4_a_int8_g128", m, k) for k in ("rules_marlin", "cublas_fp16")}
        want |= {("mxfp4", m, k) for k in ("rules_marlin", "cublas_bf16")}
    assert got == want
    assert _FakeHumming.calls > 0
    s = S[gb.HEADLINE]
    for r in doc["rows"]:
        assert r["check_ok"] and r["mean_rel"] < gb.TOLERANCE
        assert len(r["round_us"]) == 2 and r["replays"] == 30
        # the fake graph takes 1 ms per replay: per call = 1000 us / calls per graph
        assert r["us"] == pytest.approx(1000.0 / r["calls_per_graph"])
        assert r["calls_per_graph"] >= 8 and r["weight_buffers"] >= 2
    r = next(r for r in doc["rows"] if r["scheme"] == gb.HEADLINE and r["kernel"] == "humming")
    assert r["floor_us"] == pytest.approx(gb.floor_us(s, 256, 128, r["m"], 4.0e12, 790.0))
    md = (tmp_path / "h200.md").read_text()
    assert len(_table_lines(md)) == 1 + 6
    out = capsys.readouterr().out
    assert "rules_marlin passed every check" in out and out.endswith(md)  # the table last


def test_main_with_fake_cuda_reports_wrong_results(monkeypatch, tmp_path):
    _fake_cuda(monkeypatch, wrong_m=16)
    argv = [
        *RUN_ARGS,
        "--schemes",
        "gptq_int4_cw,nvfp4",
        "--no-humming",
        "--out-dir",
        str(tmp_path),
    ]
    built = _full_build()
    del built["nvfp4"]
    import marlin

    monkeypatch.setattr(marlin, "built_schemes", lambda: built)
    assert gb.main(argv) == 1
    doc = json.loads((tmp_path / "h200.json").read_text())
    h = doc["header"]
    assert h["skipped"] == [
        {"scheme": "nvfp4", "reason": "scheme nvfp4 not built in this libmarlin.so"}
    ]
    assert [(f["kernel"], f["m"]) for f in h["failures"]] == [("rules_marlin", 16)]
    assert {(r["m"], r["kernel"]) for r in doc["rows"]} == {
        (1, "rules_marlin"), (1, "cublas_fp16"), (16, "cublas_fp16"),
    }  # fmt: skip
    md = (tmp_path / "h200.md").read_text()
    assert "| gptq_int4_cw | 256x128 | 16 | FAIL |" in md
