"""marlin.gemm vs cuBLAS (torch.matmul) and Humming, timed with the method of shared/docs/gpu.md.

Runs on the GPU machine from the bundle (tools/build_gpu_bundle.sh copies it to
gpu_bundle/benchmarks/; torch and matplotlib are there, libmarlin.so is found through
$MARLIN_LIBRARY or next to the package). From the bundle's folder:

    MARLIN_LIBRARY=$PWD/libmarlin.so PYTHONPATH=python:/tmp/site \\
        python3 benchmarks/gemm_bench.py --out-dir $OUT [--quick] [--schemes ...] [--no-humming]

Writes --out (default benchmarks/results/h200.json: {"header": {...}, "rows": [...]}), the
Markdown table beside it (.md) and one PNG per plot group under --plots-dir
(<json stem>_<group>.png); --out-dir DIR puts all of them in DIR (json + md + at most 6 PNGs:
the GPU tool brings back 8 files). --from-json A.json [B.json ...] re-renders (and merges) earlier
results without a GPU.

Kernels per (scheme, K x N, M): rules_marlin (marlin.gemm), cublas_fp16 / cublas_bf16
(torch.matmul(A[M,K], W[K,N]) on the scheme's dequantized weights in its 16-bit dtype: what a user
runs unquantized) and humming (GPTQ int4 g128 only, when `import humming` works; loaded from the
same GPTQ tensors through its Python API alone, gpu.md's "Humming as a timing peer").

Method (gpu.md): each timing is one CUDA graph replaying calls over rotating weight buffers of
>= --rotate-mb MB (the L2 is 60 MiB); warm-up: one eager pass, one side-stream pass, 3 replays;
then --replays replays queued behind a spin kernel, each between two CUDA events; time per call =
median replay / calls per graph; --rounds rounds interleaving the kernels (order reversed every
other round), the smaller round median kept. Bandwidth reference: a 2 GiB device-to-device copy
(read + write counted). floor = max(bytes moved by the quantized kernel (weights + scales + zero
points + A + C) / copy bandwidth, 2MNK / --dense-tflops). pct_copy_bw = the kernel's own bytes /
copy bandwidth / time. Before timing, every kernel's output is checked against a float64
reference (A @ the quantizer's dequantized weights): a rules_marlin mismatch skips that row's
timing and makes the exit status 1; a peer mismatch is reported and its row kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
import zlib

SHAPES = (
    (4096, 4096),
    (4096, 12288),
    (4096, 22016),
    (11008, 4096),
    (8192, 8192),
    (8192, 28672),
    (28672, 8192),
)
MS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)
KERNELS = ("rules_marlin", "humming", "cublas_fp16", "cublas_bf16")
PEERS = KERNELS[1:]
TOLERANCE = 0.01  # mean|out - ref| / mean|ref| (16-bit output; the GPU suite allows 0.04)
MIN_REPLAYS = 30  # the method's minimum; rows under it (slow calls, --max-case-s) are marked
MAX_OUTPUT_FILES = 8  # the GPU tool brings back at most 8 files of $OUT
HEADLINE = "gptq_int4_g128"

_C_TYPES = {"float16": "kFloat16", "bfloat16": "kBFloat16"}
_A_TYPES = {"int8": "kS8", "fp8": "kFE4M3fn"}
_A_DTYPES = {"int8": "int8", "fp8": "float8_e4m3fn"}


@dataclasses.dataclass(frozen=True)
class Scheme:
    """One benchmarked configuration: how to quantize, prepare and call it."""

    name: str
    fmt: str  # marlin.prepare_weights format
    bits: int  # weight code bits
    group_size: int  # rows of K per scale group; -1 channelwise
    dtype: str  # 16-bit activation / output dtype: "float16" or "bfloat16"
    lib_scheme: str  # key of marlin.built_schemes()
    plot_group: str
    activation: str | None = None  # None (16-bit A), "int8" or "fp8"
    humming: bool = False  # also time Humming (GPTQ int4 g128, same tensors)

    @property
    def a_type(self) -> str:
        return _A_TYPES.get(self.activation) or _C_TYPES[self.dtype]

    @property
    def c_type(self) -> str:
        return _C_TYPES[self.dtype]

    @property
    def group_blocks(self) -> int:
        return -1 if self.group_size == -1 else self.group_size // 16

    @property
    def a_dtype(self) -> str:
        """marlin.make_workspace's a_dtype (the dtype of the A that marlin.gemm gets)."""
        return _A_DTYPES.get(self.activation) or self.dtype

    @property
    def a_elem_bytes(self) -> int:
        return 1 if self.activation else 2

    @property
    def cublas_kernel(self) -> str:
        return "cublas_bf16" if self.dtype == "bfloat16" else "cublas_fp16"

    @property
    def label(self) -> str:
        g = "channelwise" if self.group_size == -1 else f"g{self.group_size}"
        d16 = "bf16" if self.dtype == "bfloat16" else "fp16"
        act = f"{self.activation} A, {d16} C" if self.activation else d16
        return f"{self.name} ({self.fmt} {self.bits}-bit {g}, {act})"


def _s(name, fmt, bits, group, dtype, lib, group_name, activation=None, humming=False):
    return Scheme(name, fmt, bits, group, dtype, lib, group_name, activation, humming)


# Plot groups (one PNG each, in this order): the headline alone, then at most 3 schemes per PNG,
# so that json + md + PNGs <= MAX_OUTPUT_FILES.
SCHEMES = {
    s.name: s
    for s in (
        _s(HEADLINE, "gptq", 4, 128, "float16", "gptq_int4", HEADLINE, humming=True),
        _s(
            "gptq_int4_g128_bf16",
            "gptq",
            4,
            128,
            "bfloat16",
            "gptq_int4",
            "gptq_int4_variants",
            humming=True,
        ),
        _s("gptq_int4_cw", "gptq", 4, -1, "float16", "gptq_int4", "gptq_int4_variants"),
        _s("awq_int4_g128", "awq", 4, 128, "float16", "awq_int4", "awq_hqq_int8"),
        _s("hqq_int4_g64", "hqq", 4, 64, "float16", "hqq_int4", "awq_hqq_int8"),
        _s("gptq_int8_g128", "gptq", 8, 128, "float16", "gptq_int8", "awq_hqq_int8"),
        _s("fp8_cw", "fp8", 8, -1, "float16", "fp8", "fp8_fp4"),
        _s("nvfp4", "nvfp4", 4, 16, "float16", "nvfp4", "fp8_fp4"),
        _s("mxfp4", "mxfp4", 4, 32, "bfloat16", "mxfp4", "fp8_fp4"),
        _s(
            "gptq_int4_a_int8_g128", "gptq", 4, 128, "float16", "gptq_int4_a_int8", "a_int8", "int8"
        ),
        _s("awq_int4_a_int8_g128", "awq", 4, 128, "float16", "awq_int4_a_int8", "a_int8", "int8"),
        _s("gptq_int4_a_fp8_g128", "gptq", 4, 128, "float16", "gptq_int4_a_fp8", "a_fp8", "fp8"),
        _s("awq_int4_a_fp8_g128", "awq", 4, 128, "float16", "awq_int4_a_fp8", "a_fp8", "fp8"),
        _s("mxfp4_a_fp8", "mxfp4", 4, 32, "bfloat16", "mxfp4_a_fp8", "a_fp8", "fp8"),
    )
}
# Names of the previous version of this script.
ALIASES = {
    "gptq_g128": HEADLINE,
    "gptq_cw": "gptq_int4_cw",
    "awq_g128": "awq_int4_g128",
}
QUICK = {
    "shapes": "4096x4096,8192x28672",
    "ms": "1,16,256",
    "schemes": f"{HEADLINE},gptq_int4_g128_bf16,awq_int4_g128",
}

# Upstream Marlin (vLLM ce96857f, sm_90, GPTQ int4 g128 fp16), H200, from gpu.md's baseline
# table (2026-12-01; M = 32 and 128 from its notes). Not rerun here: reference only.
UPSTREAM_H200_G128_US = {
    1: (9.0, 14.4, 21.9, 16.7, 15.9, 44.5, 44.0),
    16: (9.6, 15.8, 24.2, 18.4, 17.5, 49.4, 47.9),
    32: (11.0, 20.5, 27.9, 21.0, 27.9, 59.9, 79.4),
    64: (15.4, 29.1, 39.4, 30.8, 41.2, 86.1, 117.0),
    128: (20.4, 42.8, 71.3, 50.9, 51.2, 164.5, 160.9),
    256: (29.9, 78.3, 129.0, 67.3, 95.4, 350.3, 352.3),
    1024: (96.5, 274.6, 530.3, 248.2, 374.8, 1365.3, 1302.4),
}


# ---------------------------------------------------------------------------------------------
# pure parts (no torch, no GPU; tests/benchmarks covers them)


def upstream_us(scheme: str, k: int, n: int, m: int, card: str = "H200") -> float | None:
    """gpu.md's upstream Marlin time for the headline scheme on an H200, else None."""
    if scheme != HEADLINE or "H200" not in card or (k, n) not in SHAPES:
        return None
    row = UPSTREAM_H200_G128_US.get(m)
    return None if row is None else row[SHAPES.index((k, n))]


def parse_shapes(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        parts = item.split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"shape {item!r} is not KxN (e.g. 4096x4096)")
        out.append((int(parts[0]), int(parts[1])))
    if not out:
        raise ValueError("no shapes given")
    return out


def parse_ms(text: str) -> list[int]:
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if not item.isdigit() or int(item) < 1:
            raise ValueError(f"M {item!r} is not a positive integer")
        out.append(int(item))
    if not out:
        raise ValueError("no M values given")
    return out


def parse_schemes(text: str) -> list[str]:
    """Scheme names (old names accepted), in the given order, without duplicates."""
    if text.strip() == "all":
        return list(SCHEMES)
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name = ALIASES.get(item, item)
        if name not in SCHEMES:
            raise ValueError(f"unknown scheme {item!r}; valid: all, {', '.join(SCHEMES)}")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError("no schemes given")
    return out


def num_groups(s: Scheme, k: int) -> int:
    return 1 if s.group_size == -1 else k // s.group_size


def weight_bytes(s: Scheme, k: int, n: int) -> int:
    """Bytes of the prepared weights: codes + scales (+ zero points, + NVFP4's global scale)."""
    g = num_groups(s, k)
    scale_bytes = 1 if s.fmt in ("nvfp4", "mxfp4") else 2
    total = k * n * s.bits // 8 + g * n * scale_bytes
    if s.fmt == "awq":
        total += g * n // 2  # int4 zero points
    elif s.fmt == "hqq":
        total += g * n * 2  # fp16 zero points
    elif s.fmt == "nvfp4":
        total += 4  # float32 global scale
    return total


def moved_bytes(s: Scheme, k: int, n: int, m: int, kernel: str = "rules_marlin") -> int:
    """Bytes a kernel must move at least: its weights, A (+ per-row scales) and C."""
    c = 2 * m * n
    if kernel.startswith("cublas"):
        return 2 * k * n + 2 * m * k + c
    a = m * k * s.a_elem_bytes + (4 * m if s.activation else 0)
    return weight_bytes(s, k, n) + a + c


def floor_us(s: Scheme, k: int, n: int, m: int, copy_bw: float, dense_tflops: float) -> float:
    """max(quantized kernel bytes / copy bandwidth, 2MNK / dense TFLOP/s), in us."""
    return max(moved_bytes(s, k, n, m) / copy_bw, 2.0 * m * n * k / (dense_tflops * 1e12)) * 1e6


def pct_copy_bw(nbytes: int, copy_bw: float, us: float) -> float:
    return 100.0 * nbytes / copy_bw / (us * 1e-6)


def make_row(s, k, n, m, kernel, us, copy_bw, dense_tflops, **extra) -> dict:
    nbytes = moved_bytes(s, k, n, m, kernel)
    row = {
        "scheme": s.name,
        "k": k,
        "n": n,
        "m": m,
        "kernel": kernel,
        "us": us,
        "pct_copy_bw": pct_copy_bw(nbytes, copy_bw, us),
        "floor_us": floor_us(s, k, n, m, copy_bw, dense_tflops),
        "bytes": nbytes,
    }
    row.update(extra)
    return row


def skip_reason(s: Scheme, built: dict) -> str | None:
    """Why this libmarlin.so cannot run scheme `s` (None: it can). built: marlin.built_schemes()."""
    served = built.get(s.lib_scheme)
    if not served:
        return f"scheme {s.lib_scheme} not built in this libmarlin.so"
    want = (s.a_type, s.c_type, s.group_blocks)
    if want not in served:
        return (
            f"{s.lib_scheme} is built but has no kernel for a={s.a_type} c={s.c_type} "
            f"group_blocks={s.group_blocks}"
        )
    return None


def n_buffers(rotate_bytes: float, nbytes: int) -> int:
    """Rotating weight copies so that one graph reads >= rotate_bytes."""
    return max(1, math.ceil(rotate_bytes / max(nbytes, 1)))


def graph_plan(call_s, nbuf, min_calls, replays, max_case_s, slow_replay_s=0.05):
    """(passes over the buffers per graph, replays) for calls taking about call_s seconds.

    At least min_calls calls per graph (more passes over the rotating buffers), unless one pass
    already takes slow_replay_s; replays capped so one round takes about max_case_s, but at least
    10 (rows under MIN_REPLAYS are marked).
    """
    reps = max(1, math.ceil(min_calls / nbuf))
    if call_s * nbuf * reps > slow_replay_s:
        reps = 1
    est = max(call_s * nbuf * reps, 1e-9)
    return reps, max(min(10, replays), min(replays, int(max_case_s / est)))


def find_commit(script_dir: str, env=None) -> str:
    """$MARLIN_COMMIT, else the bundle's COMMIT file, else git rev-parse, else 'unknown'."""
    env = os.environ if env is None else env
    if env.get("MARLIN_COMMIT"):
        return env["MARLIN_COMMIT"]
    for path in (os.path.join(script_dir, "..", "COMMIT"), os.path.join(script_dir, "COMMIT")):
        if os.path.isfile(path):
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
    try:
        out = subprocess.run(
            ["git", "-C", script_dir, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", script_dir, "diff", "--quiet", "HEAD"], capture_output=True, timeout=10
        ).returncode
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def output_paths(out: str, plots_dir: str, out_dir: str | None):
    """(json path, md path, plots folder, plot prefix); out_dir moves all three into one folder."""
    stem = os.path.splitext(os.path.basename(out))[0]
    if out_dir:
        json_path = os.path.join(out_dir, stem + ".json")
        plots_dir = out_dir
    else:
        json_path = out
    return json_path, os.path.splitext(json_path)[0] + ".md", plots_dir, stem


def plot_groups(scheme_names) -> list[tuple[str, list[str]]]:
    """[(group, [schemes])] in SCHEMES order, for the schemes given (unknown names dropped)."""
    groups: dict[str, list[str]] = {}
    for name, s in SCHEMES.items():
        if name in scheme_names:
            groups.setdefault(s.plot_group, []).append(name)
    return list(groups.items())


def plot_path(plots_dir: str, prefix: str, group: str) -> str:
    return os.path.join(plots_dir, f"{prefix}_{group}.png")


def rows_by_case(rows) -> dict:
    """(scheme, k, n, m) -> {kernel: row}, in first-seen order."""
    out: dict = {}
    for r in rows:
        out.setdefault((r["scheme"], r["k"], r["n"], r["m"]), {})[r["kernel"]] = r
    return out


HEADER_KEYS = ("card", "date", "commit", "command", "copy_bw_tbs")
ROW_KEYS = ("scheme", "k", "n", "m", "kernel", "us", "pct_copy_bw", "floor_us")


def validate_document(doc) -> None:
    """Raises ValueError unless doc is {"header": {HEADER_KEYS...}, "rows": [{ROW_KEYS...}]}."""
    if not isinstance(doc, dict) or not {"header", "rows"} <= set(doc):
        raise ValueError("results must be an object with 'header' and 'rows'")
    missing = [k for k in HEADER_KEYS if k not in doc["header"]]
    if missing:
        raise ValueError(f"header lacks {missing}")
    for i, r in enumerate(doc["rows"]):
        missing = [k for k in ROW_KEYS if k not in r]
        if missing:
            raise ValueError(f"row {i} lacks {missing}")
        if r["kernel"] not in KERNELS:
            raise ValueError(f"row {i}: kernel {r['kernel']!r} not in {KERNELS}")
        if not (isinstance(r["us"], (int, float)) and r["us"] > 0):
            raise ValueError(f"row {i}: us {r['us']!r} is not a positive time")


def merge_documents(docs) -> dict:
    """One document from several runs: rows of later documents replace equal keys."""
    if not docs:
        raise ValueError("nothing to merge")
    merged: dict = {}
    for doc in docs:
        validate_document(doc)
        for r in doc["rows"]:
            merged[(r["scheme"], r["k"], r["n"], r["m"], r["kernel"])] = r
    header = dict(docs[0]["header"])
    if len(docs) > 1:
        header["merged_from"] = [{key: d["header"].get(key) for key in HEADER_KEYS} for d in docs]
        for key in ("skipped", "failures"):
            items = []
            for d in docs:
                for item in d["header"].get(key, []):
                    if item not in items:
                        items.append(item)
            header[key] = items
    return {"header": header, "rows": list(merged.values())}


def cublas_name(scheme: str) -> str:
    s = SCHEMES.get(scheme)
    return s.cublas_kernel if s else "cublas_fp16"


def _f(x, spec=".1f") -> str:
    return "-" if x is None else format(x, spec)


def _cell(r, failed: bool) -> str:
    """A time in the table: FAIL (check failed, not timed), '-' (not run), or us with marks."""
    if r is None:
        return "FAIL" if failed else "-"
    text = f"{r['us']:.1f}"
    if r.get("check_ok") is False:
        text += " (wrong)"
    if r.get("replays", MIN_REPLAYS) < MIN_REPLAYS:
        text += f" ({r['replays']} replays)"
    return text


def markdown(doc) -> str:
    """The compact table: one line per scheme / shape / M, kernels side by side."""
    h = doc["header"]
    card = h.get("card", "")
    failed = {(f["scheme"], f["k"], f["n"], f["m"], f["kernel"]) for f in h.get("failures", [])}
    lines = [
        f"card: {card}; date: {h.get('date')}; commit: {h.get('commit')}; copy bandwidth "
        f"{h.get('copy_bw_tbs', 0):.3f} TB/s; floor compute term 2MNK / "
        f"{h.get('dense_tflops', 0):.0f} TFLOP/s",
        "",
        f"command: `{h.get('command')}`",
        "",
    ]
    cases = rows_by_case(doc["rows"])
    for f in h.get("failures", []):  # cases where only a failure was recorded
        cases.setdefault((f["scheme"], f["k"], f["n"], f["m"]), {})
    with_up = any(upstream_us(s, k, n, m, card) is not None for (s, k, n, m) in cases)
    head = (
        "| scheme | K x N | M | rules_marlin us | % copy BW | Humming us | cuBLAS us | floor us |"
    )
    rule = "|---|---|---:|---:|---:|---:|---:|---:|"
    if with_up:
        head += " upstream us (gpu.md) |"
        rule += "---:|"
    head += " best peer | best peer / rules_marlin |"
    rule += "---|---:|"
    lines += [head, rule]
    for key, by_kernel in cases.items():
        scheme, k, n, m = key
        mr = by_kernel.get("rules_marlin")
        hu = by_kernel.get("humming")
        cb = by_kernel.get("cublas_fp16") or by_kernel.get("cublas_bf16")
        any_row = mr or hu or cb
        floor = _f(any_row["floor_us"]) if any_row else "-"

        peers = [r for r in (hu, cb) if r is not None]
        best = min(peers, key=lambda r: r["us"]) if peers else None
        ratio = f"{best['us'] / mr['us']:.2f}x" if best and mr else "-"
        line = (
            f"| {scheme} | {k}x{n} | {m} | {_cell(mr, (*key, 'rules_marlin') in failed)} | "
            f"{_f(mr and mr['pct_copy_bw'], '.0f')}{'%' if mr else ''} | "
            f"{_cell(hu, (*key, 'humming') in failed)} | "
            f"{_cell(cb, (*key, cublas_name(scheme)) in failed)} | {floor} |"
        )
        if with_up:
            line += f" {_f(upstream_us(scheme, k, n, m, card))} |"
        line += f" {best['kernel'] if best else '-'} | {ratio} |"
        lines.append(line)
    notes = []
    for item in h.get("skipped", []):
        notes.append(f"- skipped {item['scheme']}: {item['reason']}")
    for f in h.get("failures", []):
        notes.append(
            f"- {f['kernel']} {f['scheme']} {f['k']}x{f['n']} M={f['m']}: {f.get('what', '')}"
        )
    if h.get("humming") and not str(h["humming"]).startswith("humming-kernels"):
        notes.append(f"- Humming: {h['humming']}")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def write_outputs(doc, json_path, md_path, quiet=False) -> None:
    for path in (json_path, md_path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = json_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, json_path)
    with open(md_path, "w") as f:
        f.write(markdown(doc))
    if not quiet:
        print(f"wrote {json_path} and {md_path}", flush=True)


_COLORS = {
    "rules_marlin": "tab:red",
    "humming": "tab:green",
    "cublas_fp16": "tab:blue",
    "cublas_bf16": "tab:purple",
    "floor": "black",
    "upstream": "tab:gray",
}


def render_plots(doc, plots_dir: str, prefix: str) -> list[str]:
    """One PNG per plot group: per scheme a row of time (log us) and a row of % of copy
    bandwidth, one column per shape, x = M (log2). Returns the paths; [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError as e:
        print(f"plots skipped: matplotlib not importable ({e})", flush=True)
        return []
    cases = rows_by_case(doc["rows"])
    card = doc["header"].get("card", "")
    schemes = {key[0] for key in cases}
    paths = []
    os.makedirs(plots_dir, exist_ok=True)
    for group, names in plot_groups(schemes):
        shapes = sorted({(k, n) for (s, k, n, _) in cases if s in names}, key=_shape_order)
        height = 2.1 * 2 * len(names) + 0.9
        fig, axes = plt.subplots(
            2 * len(names),
            len(shapes),
            figsize=(2.6 * len(shapes) + 0.6, height),
            squeeze=False,
        )
        for si, scheme in enumerate(names):
            for ci, (k, n) in enumerate(shapes):
                ax_t, ax_b = axes[2 * si][ci], axes[2 * si + 1][ci]
                keys = sorted(key for key in cases if key[:3] == (scheme, k, n))
                ms = [key[3] for key in keys]
                for kernel in KERNELS:
                    pts = [(key[3], cases[key][kernel]) for key in keys if kernel in cases[key]]
                    if not pts:
                        continue
                    x = [p[0] for p in pts]
                    ax_t.plot(
                        x,
                        [p[1]["us"] for p in pts],
                        "o-",
                        ms=3,
                        lw=1.2,
                        color=_COLORS[kernel],
                        label=kernel,
                    )
                    ax_b.plot(
                        x,
                        [p[1]["pct_copy_bw"] for p in pts],
                        "o-",
                        ms=3,
                        lw=1.2,
                        color=_COLORS[kernel],
                        label=kernel,
                    )
                floors = [
                    (key[3], next(iter(cases[key].values()))["floor_us"])
                    for key in keys
                    if cases[key]
                ]
                if floors:
                    ax_t.plot(
                        [p[0] for p in floors],
                        [p[1] for p in floors],
                        "--",
                        lw=1,
                        color=_COLORS["floor"],
                        label="floor",
                    )
                up = [(m, upstream_us(scheme, k, n, m, card)) for m in ms]
                up = [p for p in up if p[1] is not None]
                if up:
                    ax_t.plot(
                        [p[0] for p in up],
                        [p[1] for p in up],
                        "x:",
                        ms=4,
                        lw=1,
                        color=_COLORS["upstream"],
                        label="upstream Marlin (gpu.md)",
                    )
                ax_b.axhline(100, color="black", lw=0.6, ls=":")
                for ax in (ax_t, ax_b):
                    ax.set_xscale("log", base=2)
                    if ms:
                        ax.set_xticks(ms)
                        ax.set_xticklabels(m_tick_labels(ms), fontsize=6)
                        ax.xaxis.set_minor_locator(ticker.NullLocator())
                    ax.tick_params(which="both", labelsize=6)
                    ax.grid(True, which="both", lw=0.3, alpha=0.5)
                ax_t.set_yscale("log")
                ax_t.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                ax_t.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                ax_t.yaxis.set_minor_formatter(ticker.NullFormatter())
                ax_b.set_ylim(bottom=0)
                ax_t.set_title(f"{k}x{n}", fontsize=8)
                if ci == 0:
                    ax_t.set_ylabel(f"{scheme}\nus per call", fontsize=7)
                    ax_b.set_ylabel("% of copy BW", fontsize=7)
                if si == len(names) - 1:
                    ax_b.set_xlabel("M", fontsize=7)
        handles, labels = {}, []
        for ax in axes.flat:
            for hd, lb in zip(*ax.get_legend_handles_labels(), strict=True):
                if lb not in handles:
                    handles[lb] = hd
                    labels.append(lb)
        fig.legend(
            [handles[lb] for lb in labels],
            labels,
            loc="lower center",
            ncol=len(labels),
            fontsize=8,
            frameon=False,
        )
        h = doc["header"]
        fig.suptitle(
            f"{', '.join(SCHEMES[s].label for s in names)}\n{card}, commit {h.get('commit')}, "
            f"{h.get('date')}, copy {h.get('copy_bw_tbs', 0):.2f} TB/s",
            fontsize=8,
            y=0.995,
        )
        fig.tight_layout(rect=(0, 0.3 / height, 1, 1 - 0.45 / height))
        path = plot_path(plots_dir, prefix, group)
        fig.savefig(path, dpi=72)
        plt.close(fig)
        paths.append(path)
    print("wrote " + ", ".join(paths), flush=True)
    return paths


def m_tick_labels(ms) -> list[str]:
    """Tick labels for the M axis: every M when few, else only powers of 4 (no overlap)."""
    if len(ms) <= 6:
        return [str(m) for m in ms]
    return [str(m) if math.log2(m) % 2 == 0 else "" for m in ms]


def _shape_order(kn):
    return SHAPES.index(kn) if kn in SHAPES else len(SHAPES) + kn[0] * 10**6 + kn[1]


def seed_for(seed: int, *parts) -> int:
    return (seed + zlib.crc32(repr(parts).encode())) & 0x7FFFFFFF


# ---------------------------------------------------------------------------------------------
# GPU parts (torch with CUDA, libmarlin.so)


DEVICE = "cuda"  # where the run puts its tensors (tests/benchmarks drives the loop on the CPU)
PACKER = "library"  # marlin.prepare_weights packer of the run


def quantize(s: Scheme, k: int, n: int, seed: int, device=None):
    """marlin.quant QuantizedWeight of random normal weights [K, N] for scheme s."""
    import torch

    from marlin import quant

    torch.manual_seed(seed)
    w = torch.randn(k, n, device=device or DEVICE)
    dt = getattr(torch, s.dtype)
    if s.fmt == "gptq":
        q = quant.quantize_gptq(w, bits=s.bits, group_size=s.group_size, dtype=dt)
    elif s.fmt == "awq":
        q = quant.quantize_awq(w, group_size=s.group_size, dtype=dt)
    elif s.fmt == "hqq":
        q = quant.quantize_hqq(w, group_size=s.group_size, dtype=dt)
    elif s.fmt == "fp8":
        q = quant.quantize_fp8(w, group_size=s.group_size, dtype=dt)
    elif s.fmt == "nvfp4":
        q = quant.quantize_nvfp4(w)
    elif s.fmt == "mxfp4":
        q = quant.quantize_mxfp4(w)
    else:
        raise ValueError(s.fmt)
    return q


def prepare(s: Scheme, q, packer=None):
    """marlin.prepare_weights of the quantized tensors, as tests/gpu prepares them."""
    import torch

    kwargs = {"activation": s.activation, "packer": packer or PACKER}
    if s.fmt in ("gptq", "awq", "fp8"):
        kwargs["dtype"] = getattr(torch, s.dtype)
    return q.prepare(**kwargs)


def prepared_bytes(w) -> int:
    total = 0
    for t in (w.b_q_weight, w.scales, w.zeros, w.g_idx, w.perm, w.global_scale):
        if t is not None:
            total += t.numel() * t.element_size()
    return total


def clone_weights(w):
    def cl(x):
        return None if x is None else x.clone()

    return dataclasses.replace(
        w, b_q_weight=cl(w.b_q_weight), scales=cl(w.scales), zeros=cl(w.zeros)
    )


def make_activations(s: Scheme, m: int, k: int, seed: int, device=None):
    """(a16 [M, K] for cuBLAS / Humming, a for marlin, a_scales or None, float64 ref of a)."""
    import torch

    from marlin import quant

    device = device or DEVICE
    g = torch.Generator(device=device).manual_seed(seed)
    a16 = torch.randn(m, k, device=device, generator=g).to(getattr(torch, s.dtype))
    if s.activation is None:
        return a16, a16, None, a16.double()
    fn = quant.quantize_activation_int8 if s.activation == "int8" else quant.quantize_activation_fp8
    a_q, a_s = fn(a16)
    return a16, a_q, a_s, a_q.double() * a_s.double()[:, None]  # exact in float64


def rel_error(got, ref) -> float:
    """mean|got - ref| / mean|ref| (inf when got has NaN / inf)."""
    import torch

    if not bool(torch.isfinite(got).all()):
        return math.inf
    d = (got.double() - ref).abs().mean().item()
    return d / max(ref.abs().mean().item(), 1e-30)


class Timer:
    """CUDA-graph timing of gpu.md's method (spin kernel, per-replay events)."""

    def __init__(self):
        import torch

        self.torch = torch
        self.cycles_per_us = None
        if hasattr(torch.cuda, "_sleep"):
            torch.cuda._sleep(1000)
            e0, e1 = self._events()
            e0.record()
            torch.cuda._sleep(2_000_000)
            e1.record()
            e1.synchronize()
            self.cycles_per_us = 2_000_000 / max(e0.elapsed_time(e1) * 1e3, 1e-3)

    def _events(self):
        ev = self.torch.cuda.Event
        return ev(enable_timing=True), ev(enable_timing=True)

    def spin(self, us: float) -> None:
        if self.cycles_per_us:
            self.torch.cuda._sleep(int(us * self.cycles_per_us))

    def capture(self, calls):
        """Eager pass, side-stream pass, capture, 3 replays: the graph of all calls."""
        torch = self.torch
        for fn in calls:
            fn()
        torch.cuda.synchronize()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for fn in calls:
                fn()
        torch.cuda.current_stream().wait_stream(stream)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for fn in calls:
                fn()
        for _ in range(3):
            graph.replay()
        torch.cuda.synchronize()
        return graph

    def median_us(self, graph, n_calls: int, replays: int) -> float:
        """Median over `replays` replays queued behind a spin kernel, per call, in us."""
        events = [self._events() for _ in range(replays)]
        self.spin(500 + 60 * replays)  # longer than queueing the replays takes the CPU
        for e0, e1 in events:
            e0.record()
            graph.replay()
            e1.record()
        self.torch.cuda.synchronize()
        return statistics.median(e0.elapsed_time(e1) * 1e3 / n_calls for e0, e1 in events)


def one_call_s(fn) -> float:
    import torch

    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def copy_bandwidth(gib=2.0, reps=20) -> float:
    """Bytes per second of a device-to-device copy of `gib` GiB (read + write counted)."""
    import torch

    n = int(gib * 2**30)
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    src.random_(0, 255)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times = []
    for _ in range(reps):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        dst.copy_(src)
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1) * 1e-3)
    del src, dst
    torch.cuda.empty_cache()
    return 2 * n / statistics.median(times)


def driver_version() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.strip()
        return out.splitlines()[0] if out else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def humming_status():
    """(HummingLayer class or None, 'humming-kernels <version>' or why not)."""
    os.environ.setdefault("HUMMING_CACHE_DIR", "/tmp/hcache")
    try:
        from humming.layer import HummingLayer
    except Exception as e:  # noqa: BLE001 - any import failure means "no Humming"
        return None, f"not importable ({type(e).__name__}: {e})"
    try:
        from importlib import metadata

        version = metadata.version("humming-kernels")
    except Exception:  # noqa: BLE001
        version = "unknown version"
    return HummingLayer, f"humming-kernels {version}"


def humming_layers(cls, s: Scheme, q, k, n, count):
    """`count` HummingLayers loaded from (clones of) the same GPTQ tensors as marlin's."""
    import torch

    layers = []
    for _ in range(count):
        layer = cls(
            shape_n=n,
            shape_k=k,
            torch_dtype=getattr(torch, s.dtype),
            weight_config={
                "quant_method": "gptq",
                "bits": s.bits,
                "group_size": s.group_size,
                "desc_act": False,
                "sym": True,
            },
        ).cuda()
        layer.load_from_tensors(
            {"qweight": q.tensors["qweight"].clone(), "scales": q.tensors["scales"].clone()}
        )
        layer.transform()
        layers.append(layer)
    return layers


class SchemeUnsupported(Exception):
    """marlin.gemm refused the scheme here (no kernel / unsupported device): skip the scheme."""


class Run:
    """The timing loop over schemes x shapes x M; collects rows and the header."""

    def __init__(self, args, header, timer, copy_bw, humming_cls):
        self.args = args
        self.header = header
        self.timer = timer
        self.bw = copy_bw
        self.humming_cls = humming_cls
        self.rows: list[dict] = []
        self.marlin_failed = False

    def doc(self):
        return {"header": self.header, "rows": self.rows}

    def fail(self, s, k, n, m, kernel, what):
        print(f"FAIL {kernel} {s.name} {k}x{n} M={m}: {what}", file=sys.stderr, flush=True)
        self.header["failures"].append(
            {"scheme": s.name, "k": k, "n": n, "m": m, "kernel": kernel, "what": what}
        )
        if kernel == "rules_marlin":
            self.marlin_failed = True

    def shape(self, s: Scheme, k: int, n: int, deadline: float) -> None:
        import torch

        args = self.args
        rotate = args.rotate_mb * 1e6
        q = quantize(s, k, n, seed_for(args.seed, s.name, k, n))
        w0 = prepare(s, q)
        wb = prepared_bytes(w0)
        if wb != weight_bytes(s, k, n):
            print(f"note: {s.name} {k}x{n}: prepared {wb} B, nominal {weight_bytes(s, k, n)} B")
        ws = [w0] + [clone_weights(w0) for _ in range(n_buffers(rotate, wb) - 1)]
        w_ref = q.w_ref.double()
        dt = getattr(torch, s.dtype)
        w16 = q.w_ref.to(dt)
        wcs = [w16] + [w16.clone() for _ in range(n_buffers(rotate, 2 * k * n) - 1)]
        layers = None
        if s.humming and self.humming_cls is not None and not args.no_humming:
            try:
                t0 = time.monotonic()
                layers = humming_layers(self.humming_cls, s, q, k, n, n_buffers(rotate, wb))
                print(f"  humming: {len(layers)} layers in {time.monotonic() - t0:.1f} s")
            except Exception as e:  # noqa: BLE001 - a peer failing must not stop the run
                self.fail(s, k, n, 0, "humming", f"setup: {type(e).__name__}: {e}")
        del q
        for m in args.ms_list:
            if time.monotonic() > deadline:
                print(f"time budget reached: skipping {s.name} {k}x{n} M>={m}", flush=True)
                self.header["truncated"] = True
                break
            self.one_m(s, k, n, m, ws, w_ref, wcs, layers)
            torch.cuda.empty_cache()
        del ws, w_ref, wcs, layers, w0, w16
        torch.cuda.empty_cache()

    def one_m(self, s, k, n, m, ws, w_ref, wcs, layers) -> None:
        import torch

        import marlin

        args = self.args
        dt = getattr(torch, s.dtype)
        a16, a, a_s, a_ref = make_activations(s, m, k, seed_for(args.seed, s.name, k, n, m))
        ref = a_ref @ w_ref
        ref16 = ref if s.activation is None else a16.double() @ w_ref
        out = torch.empty(m, n, device=DEVICE, dtype=dt)
        work = marlin.make_workspace(m, n, k, a_dtype=s.a_dtype, device=DEVICE)
        kernels = {}  # name -> (one callable per weight buffer, mean rel error, check passed)

        # rules_marlin (output poisoned with NaN: an unwritten element fails the check)
        out.fill_(float("nan"))
        try:
            got = marlin.gemm(a, ws[0], a_scales=a_s, out=out, workspace=work)
            torch.cuda.synchronize()
            rel = rel_error(got, ref)
            if rel < TOLERANCE:
                kernels["rules_marlin"] = (
                    [
                        functools.partial(marlin.gemm, a, w, a_scales=a_s, out=out, workspace=work)
                        for w in ws
                    ],
                    rel,
                    True,
                )
            else:
                self.fail(s, k, n, m, "rules_marlin", f"mean rel error {rel:.3g} >= {TOLERANCE}")
        except marlin.MarlinError as e:
            refused = (marlin.MARLIN_ERR_NO_KERNEL, marlin.MARLIN_ERR_UNSUPPORTED_DEVICE)
            if s.activation == "fp8" and e.code in refused:  # as tests/gpu: a skip, not a bug
                raise SchemeUnsupported(f"the library refused fp8 activations here: {e}") from e
            self.fail(s, k, n, m, "rules_marlin", f"MarlinError: {e}")
        except Exception as e:  # noqa: BLE001 - recorded, the run goes on
            self.fail(s, k, n, m, "rules_marlin", f"{type(e).__name__}: {e}")
        # cuBLAS
        if not args.no_cublas:
            out_c = torch.empty(m, n, device=DEVICE, dtype=dt)
            torch.matmul(a16, wcs[0], out=out_c)
            torch.cuda.synchronize()
            rel = rel_error(out_c, ref16)
            ok = rel < TOLERANCE
            if not ok:
                self.fail(s, k, n, m, s.cublas_kernel, f"mean rel error {rel:.3g} (kept)")
            kernels[s.cublas_kernel] = (
                [functools.partial(torch.matmul, a16, w, out=out_c) for w in wcs],
                rel,
                ok,
            )
        # Humming (black box: construct, load_from_tensors, transform, call)
        if layers:
            out_h = torch.empty(m, n, device=DEVICE, dtype=dt)
            try:
                t0 = time.monotonic()
                got = layers[0](a16, outputs=out_h)  # JIT-compiles on first use: before capture
                torch.cuda.synchronize()
                jit_s = time.monotonic() - t0
                if jit_s > 1:
                    print(f"  humming M={m}: first call {jit_s:.1f} s (JIT)", flush=True)
                if got is None:
                    got = out_h
                rel = rel_error(got, ref16)
                ok = rel < TOLERANCE
                if not ok:
                    self.fail(s, k, n, m, "humming", f"mean rel error {rel:.3g} (kept)")
                kernels["humming"] = (
                    [functools.partial(layer, a16, outputs=out_h) for layer in layers],
                    rel,
                    ok,
                )
            except Exception as e:  # noqa: BLE001
                self.fail(s, k, n, m, "humming", f"{type(e).__name__}: {e}")

        # graphs
        graphs = {}
        for name, (per_buf, rel, ok) in kernels.items():
            try:
                call_s = one_call_s(per_buf[0])
                reps, replays = graph_plan(
                    call_s, len(per_buf), args.min_calls, args.replays, args.max_case_s
                )
                calls = per_buf * reps
                graphs[name] = (
                    self.timer.capture(calls),
                    len(calls),
                    replays,
                    len(per_buf),
                    rel,
                    ok,
                )
            except Exception as e:  # noqa: BLE001
                self.fail(s, k, n, m, name, f"capture: {type(e).__name__}: {e}")
        rounds: dict[str, list[float]] = {name: [] for name in graphs}
        order = list(graphs)
        for r in range(args.rounds):
            for name in order if r % 2 == 0 else order[::-1]:
                graph, n_calls, replays = graphs[name][:3]
                rounds[name].append(self.timer.median_us(graph, n_calls, replays))
        line = [f"{s.name} {k}x{n} M={m}:"]
        for name in KERNELS:
            if name not in graphs:
                continue
            _, n_calls, replays, nbuf, rel, ok = graphs[name]
            us = min(rounds[name])
            row = make_row(
                s,
                k,
                n,
                m,
                name,
                us,
                self.bw,
                args.dense_tflops,
                round_us=rounds[name],
                replays=replays,
                calls_per_graph=n_calls,
                weight_buffers=nbuf,
                mean_rel=rel,
                check_ok=ok,
            )
            self.rows.append(row)
            line.append(f"{name} {us:.1f} us ({row['pct_copy_bw']:.0f}% BW)")
        if graphs:
            line.append(f"floor {floor_us(s, k, n, m, self.bw, args.dense_tflops):.1f} us")
            print(" ".join(line), flush=True)
        del graphs


def build_parser():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--shapes", help="KxN,... (default: the 7 shapes of gpu.md)")
    p.add_argument(
        "--ms", help="M values, comma-separated (default: " + ",".join(map(str, MS)) + ")"
    )
    p.add_argument("--schemes", help="comma-separated, or 'all' (default): " + ", ".join(SCHEMES))
    p.add_argument("--out", default="benchmarks/results/h200.json", help="JSON results; .md beside")
    p.add_argument("--plots-dir", default="benchmarks/results", help="PNG folder")
    p.add_argument("--out-dir", help="put the JSON, the .md and the PNGs in this one folder")
    p.add_argument("--no-humming", action="store_true", help="do not time Humming")
    p.add_argument("--no-cublas", action="store_true", help="do not time cuBLAS")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--rounds", type=int, default=2, help="rounds interleaving the kernels (>= 2)")
    p.add_argument("--replays", type=int, default=MIN_REPLAYS, help="replays per round (>= 30)")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: --shapes {QUICK['shapes']} --ms {QUICK['ms']} "
        f"--schemes {QUICK['schemes']} (explicit flags win)",
    )
    p.add_argument("--rotate-mb", type=float, default=200.0, help="weight MB rotated per graph")
    p.add_argument("--min-calls", type=int, default=8, help="calls per graph at least")
    p.add_argument(
        "--max-case-s",
        type=float,
        default=2.0,
        help="cap one round's replays to about this long (slow calls), >= 10 replays",
    )
    p.add_argument(
        "--time-budget-s",
        type=float,
        default=0,
        help="start no new row after this many seconds (0: no limit); the JSON is "
        "written after every shape",
    )
    p.add_argument("--dense-tflops", type=float, default=790.0, help="floor's compute term")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument(
        "--from-json",
        nargs="+",
        metavar="JSON",
        help="no GPU: merge these results and write the JSON, .md and plots again",
    )
    return p


def resolve(args, parser):
    """Applies --quick's defaults and parses the lists (parser.error on bad input)."""
    for key, value in QUICK.items():
        if getattr(args, key) is None:
            setattr(args, key, value if args.quick else None)
    try:
        args.shape_list = parse_shapes(args.shapes) if args.shapes else list(SHAPES)
        args.ms_list = parse_ms(args.ms) if args.ms else list(MS)
        args.scheme_list = parse_schemes(args.schemes) if args.schemes else list(SCHEMES)
    except ValueError as e:
        parser.error(str(e))
    if args.rounds < 1 or args.replays < 1:
        parser.error("--rounds and --replays must be >= 1")
    return args


def command_line(argv) -> str:
    return "python3 benchmarks/gemm_bench.py" + "".join(" " + shlex.quote(a) for a in argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = resolve(parser.parse_args(argv), parser)
    json_path, md_path, plots_dir, prefix = output_paths(args.out, args.plots_dir, args.out_dir)

    if args.from_json:
        docs = []
        for path in args.from_json:
            with open(path) as f:
                docs.append(json.load(f))
        doc = merge_documents(docs)
        write_outputs(doc, json_path, md_path)
        if not args.no_plots:
            render_plots(doc, plots_dir, prefix)
        print()
        print(markdown(doc), end="")
        return 0

    script_dir = os.path.dirname(os.path.abspath(__file__))
    try:
        import marlin  # noqa: F401
    except ImportError:  # run from the repository or the bundle without PYTHONPATH=python
        sys.path.insert(0, os.path.join(script_dir, "..", "python"))
    import torch

    import marlin

    t_start = time.monotonic()
    deadline = t_start + args.time_budget_s if args.time_budget_s else math.inf
    if not torch.cuda.is_available():
        print("gemm_bench: no CUDA GPU visible to torch", file=sys.stderr)
        return 2
    built = marlin.built_schemes()
    props = torch.cuda.get_device_properties(0)
    humming_cls, humming_text = (None, "not timed (--no-humming)")
    if not args.no_humming and any(SCHEMES[n].humming for n in args.scheme_list):
        humming_cls, humming_text = humming_status()
    header = {
        "card": f"{props.name}, {props.multi_processor_count} SMs",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": find_commit(script_dir),
        "command": command_line(argv),
        "copy_bw_tbs": None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "driver": driver_version(),
        "python": sys.version.split()[0],
        "library": marlin.library_candidates()[0],
        # 0 turns off the early (programmatic dependent) launch of the sm_90 kernels.
        "dependent_launch": os.environ.get("MARLIN_DEPENDENT_LAUNCH", "1"),
        "humming": humming_text,
        "humming_cache_dir": os.environ.get("HUMMING_CACHE_DIR"),
        "dense_tflops": args.dense_tflops,
        "method": {
            "rounds": args.rounds,
            "replays": args.replays,
            "rotate_mb": args.rotate_mb,
            "min_calls": args.min_calls,
            "max_case_s": args.max_case_s,
            "tolerance": TOLERANCE,
        },
        "built_schemes": sorted(built),
        "skipped": [],
        "failures": [],
        "truncated": False,
    }
    todo = []
    for name in args.scheme_list:
        reason = skip_reason(SCHEMES[name], built)
        if reason:
            print(f"skip {name}: {reason}", flush=True)
            header["skipped"].append({"scheme": name, "reason": reason})
        else:
            todo.append(SCHEMES[name])
    torch.backends.cuda.matmul.allow_tf32 = False
    bw = copy_bandwidth()
    header["copy_bw_tbs"] = bw / 1e12
    timer = Timer()
    header["method"]["spin_kernel"] = timer.cycles_per_us is not None
    print(
        f"# {header['card']}, copy {bw / 1e12:.3f} TB/s, torch {torch.__version__}, commit "
        f"{header['commit']}, Humming: {humming_text}",
        flush=True,
    )
    run = Run(args, header, timer, bw, humming_cls)
    for s in todo:
        for k, n in args.shape_list:
            if time.monotonic() > deadline:
                print(f"time budget reached: skipping {s.name} {k}x{n}", flush=True)
                header["truncated"] = True
                continue
            try:
                run.shape(s, k, n, deadline)
            except SchemeUnsupported as e:
                print(f"skip {s.name}: {e}", flush=True)
                header["skipped"].append({"scheme": s.name, "reason": str(e)})
                torch.cuda.empty_cache()
                break
            except Exception as e:  # noqa: BLE001 - recorded; the other shapes still run
                run.fail(s, k, n, 0, "rules_marlin", f"setup: {type(e).__name__}: {e}")
                torch.cuda.empty_cache()
            header["elapsed_s"] = round(time.monotonic() - t_start, 1)
            write_outputs(run.doc(), json_path, md_path, quiet=True)
    header["elapsed_s"] = round(time.monotonic() - t_start, 1)
    doc = run.doc()
    write_outputs(doc, json_path, md_path)
    if not args.no_plots:
        render_plots(doc, plots_dir, prefix)
    print(
        f"{len(run.rows)} rows in {header['elapsed_s']:.0f} s; rules_marlin "
        f"{'FAILED a check' if run.marlin_failed else 'passed every check'}"
    )
    print()
    print(markdown(doc), end="")  # the table last
    return 1 if run.marlin_failed else 0


if __name__ == "__main__":
    sys.exit(main())
