"""marlin.gemm vs torch.matmul fp16 (cuBLAS), timed with the method of docs/benchmarks.md.

Runs on the GPU machine from a bundle (tools/build_gpu_bundle.sh copies it to
gpu_bundle/benchmarks/): torch there, libmarlin.so found through $MARLIN_LIBRARY or next to the
package. From the bundle's folder:

    MARLIN_LIBRARY=$PWD/libmarlin.so PYTHONPATH=python python3 benchmarks/gemm_bench.py \
        --out results.json [--shapes 4096x4096,8192x8192] [--ms 1,16,64] \
        [--schemes gptq_g128,gptq_cw,awq_g128,fp8_cw,nvfp4]

Method (the one gpu.md's baseline table was measured with): each timing is one CUDA graph that
replays calls over rotating weight buffers of >= --rotate-mb MB in total (L2 is 50 MB), timed
with CUDA events after a warm-up, median of --replays replays divided by the calls per graph.
Bandwidth reference: a 2 GiB device-to-device copy (read + write counted). floor = max(bytes of
weights + scales (+ zero points) + A + C over copy bandwidth, 2MNK / --dense-tflops). Before
timing a shape, marlin's output is checked against a float32 reference of the dequantized weights
(exit 1 if wrong). Results go to --out (JSON) and --out with .md (the Markdown table).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import math
import os
import statistics
import sys
import time

import torch

import marlin
from marlin import quant

SHAPES = (
    (4096, 4096),
    (4096, 12288),
    (4096, 22016),
    (11008, 4096),
    (8192, 8192),
    (8192, 28672),
    (28672, 8192),
)
MS = (1, 4, 16, 32, 64, 128, 256, 1024)
# scheme -> (format, group size, needs scheme built)
SCHEMES = {
    "gptq_g128": ("gptq", 128, "gptq_int4"),
    "gptq_cw": ("gptq", -1, "gptq_int4"),
    "awq_g128": ("awq", 128, "awq_int4"),
    "fp8_cw": ("fp8", -1, "fp8"),
    "nvfp4": ("nvfp4", 16, "nvfp4"),
}
TOLERANCE = 0.01  # mean|out - ref| / mean|ref| (fp16 output; the GPU suite allows 0.04)

# upstream Marlin (vLLM ce96857f, sm_90, GPTQ int4 g128 f16, fp32 reduce), H100, gpu.md.
UPSTREAM_G128_US = {
    (4096, 4096): (9.2, 9.2, 9.7, 10.9, 15.1, 20.2, 29.3, 95.6),
    (4096, 12288): (15.6, 15.7, 16.7, 20.7, 29.0, 42.2, 76.5, 276.3),
    (4096, 22016): (25.0, 25.0, 26.6, 29.3, 39.5, 71.0, 126.7, 502.6),
    (11008, 4096): (17.9, 17.3, 18.6, 21.1, 30.5, 51.0, 65.9, 244.2),
    (8192, 8192): (18.2, 18.3, 18.9, 28.3, 41.2, 50.7, 94.9, 351.2),
    (8192, 28672): (51.8, 52.0, 54.8, 62.2, 84.2, 157.3, 321.0, 1306.2),
    (28672, 8192): (52.2, 51.6, 53.6, 79.4, 114.8, 155.4, 303.3, 1253.3),
}


def upstream_us(scheme, k, n, m):
    row = UPSTREAM_G128_US.get((k, n))
    if scheme != "gptq_g128" or row is None or m not in MS:
        return None
    return row[MS.index(m)]


def parse_shapes(text):
    out = []
    for item in text.split(","):
        k, n = item.lower().split("x")
        out.append((int(k), int(n)))
    return out


def copy_bandwidth(gib=2.0, reps=20):
    """Bytes per second of a device-to-device copy of `gib` GiB (read + write counted)."""
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


def graph_time_us(calls, replays, warmup=3):
    """Median over `replays` of one CUDA graph of all `calls` (callables), per call, in us."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for fn in calls:  # eager warm-up (lazy init, kernel attributes) outside capture
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for fn in calls:
            fn()
    for _ in range(warmup):
        graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        graph.replay()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1) * 1e3 / len(calls))
    del graph
    return statistics.median(times)


def one_call_us(fn):
    fn()
    torch.cuda.synchronize()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0.record()
    fn()
    e1.record()
    e1.synchronize()
    return e0.elapsed_time(e1) * 1e3


def quantize(fmt, group, k, n, seed):
    torch.manual_seed(seed)
    w = torch.randn(k, n, device="cuda")
    if fmt == "gptq":
        q = quant.quantize_gptq(w, bits=4, group_size=group, dtype=torch.float16)
    elif fmt == "awq":
        q = quant.quantize_awq(w, group_size=group, dtype=torch.float16)
    elif fmt == "fp8":
        q = quant.quantize_fp8(w, group_size=group, dtype=torch.float16)
    elif fmt == "nvfp4":
        q = quant.quantize_nvfp4(w)
    else:
        raise ValueError(fmt)
    del w
    kwargs = {"dtype": torch.float16} if fmt in ("gptq", "awq", "fp8") else {}
    prepared = q.prepare(**kwargs)
    del q
    return prepared


def weight_bytes(w):
    total = 0
    for t in (w.b_q_weight, w.scales, w.zeros, w.g_idx, w.perm):
        if t is not None:
            total += t.numel() * t.element_size()
    return total


def clone_weights(w):
    def cl(x):
        return None if x is None else x.clone()

    return dataclasses.replace(
        w, b_q_weight=cl(w.b_q_weight), scales=cl(w.scales), zeros=cl(w.zeros)
    )


def check(scheme, w, w_ref, k, n, m):
    """marlin.gemm vs float32 A @ w_ref (dequantized W); raises SystemExit when wrong."""
    a = torch.randn(m, k, device="cuda", dtype=torch.float16)
    got = marlin.gemm(a, w)
    torch.cuda.synchronize()
    ref = a.float() @ w_ref
    d = (got.float() - ref).abs()
    rel = d.mean().item() / max(ref.abs().mean().item(), 1e-30)
    bad = torch.isnan(got).any().item() or not rel < TOLERANCE
    if bad:
        print(
            f"FAIL {scheme} {k}x{n} M={m}: mean_rel={rel:.3g} (tolerance {TOLERANCE}), "
            f"nan={torch.isnan(got).any().item()}",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1)
    return rel


def fmt_us(x):
    return "-" if x is None else f"{x:.1f}"


def markdown(rows, meta):
    lines = [
        f"card: {meta['device']}; copy bandwidth {meta['copy_tbps']:.2f} TB/s; "
        f"floor compute term 2MNK / {meta['dense_tflops']:.0f} TFLOP/s; {meta['date']}",
        "",
        "| scheme | K x N | M | marlin us | % of copy BW | cuBLAS fp16 us | floor us "
        "| upstream g128 us (gpu.md) | vs upstream | vs cuBLAS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        up = r["upstream_us"]
        vs_up = "-" if up is None else f"{up / r['marlin_us']:.2f}x"
        vs_cb = "-" if r["cublas_us"] is None else f"{r['cublas_us'] / r['marlin_us']:.2f}x"
        note = "" if r["replays"] == meta["replays"] else f" ({r['replays']} replays)"
        lines.append(
            f"| {r['scheme']} | {r['k']}x{r['n']} | {r['m']} | {fmt_us(r['marlin_us'])}{note} "
            f"| {r['pct_copy_bw']:.0f}% | {fmt_us(r['cublas_us'])} | {fmt_us(r['floor_us'])} "
            f"| {fmt_us(up)} | {vs_up} | {vs_cb} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shapes", default=",".join(f"{k}x{n}" for k, n in SHAPES), help="KxN,...")
    p.add_argument("--ms", default=",".join(map(str, MS)), help="M values, comma-separated")
    p.add_argument("--schemes", default="gptq_g128,gptq_cw", help=",".join(SCHEMES))
    p.add_argument("--out", default="gemm_bench.json", help="JSON results; .md beside it")
    p.add_argument("--replays", type=int, default=50)
    p.add_argument("--rotate-mb", type=float, default=200.0, help="weight bytes rotated per graph")
    p.add_argument("--min-calls", type=int, default=8, help="calls per graph at least")
    p.add_argument(
        "--max-case-s",
        type=float,
        default=3.0,
        help="cap one timing's replays so it takes about this long (slow kernels at large M); "
        "at least 5 replays; rows with fewer replays are marked",
    )
    p.add_argument("--time-budget-s", type=float, default=0, help="stop starting shapes after")
    p.add_argument("--dense-tflops", type=float, default=716.0, help="floor's compute term")
    p.add_argument("--no-cublas", action="store_true")
    p.add_argument("--seed", type=int, default=1234)
    args = p.parse_args(argv)

    t_start = time.monotonic()
    shapes = parse_shapes(args.shapes)
    ms = [int(x) for x in args.ms.split(",")]
    schemes = [s for s in args.schemes.split(",") if s]
    for s in schemes:
        if s not in SCHEMES:
            p.error(f"unknown scheme {s!r}; valid: {', '.join(SCHEMES)}")
    built = marlin.built_schemes()
    todo = []
    for s in schemes:
        if SCHEMES[s][2] in built:
            todo.append(s)
        else:
            print(f"skip {s}: scheme {SCHEMES[s][2]} not in this libmarlin.so", flush=True)

    torch.backends.cuda.matmul.allow_tf32 = False
    props = torch.cuda.get_device_properties(0)
    bw = copy_bandwidth()
    meta = {
        "device": f"{props.name}, {props.multi_processor_count} SMs",
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "copy_tbps": bw / 1e12,
        "dense_tflops": args.dense_tflops,
        "replays": args.replays,
        "rotate_mb": args.rotate_mb,
        "command": " ".join([os.path.basename(sys.argv[0])] + (argv or sys.argv[1:])),
    }
    print(f"# {meta['device']}, copy {bw / 1e12:.2f} TB/s, torch {torch.__version__}", flush=True)
    rows = []
    md_path = os.path.splitext(args.out)[0] + ".md"

    def save():
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
        with open(md_path, "w") as f:
            f.write(markdown(rows, meta))

    cublas_cache = {}
    for scheme, (k, n) in [(s, shape) for s in todo for shape in shapes]:
        if args.time_budget_s and time.monotonic() - t_start > args.time_budget_s:
            print(f"time budget reached; skipping {scheme} {k}x{n}", flush=True)
            continue
        fmt, group, _ = SCHEMES[scheme]
        w0 = quantize(fmt, group, k, n, args.seed + k + n)
        wb = weight_bytes(w0)
        nbuf = max(1, math.ceil(args.rotate_mb * 1e6 / wb))
        ws = [w0] + [clone_weights(w0) for _ in range(nbuf - 1)]
        w_ref = quant.dequantize_prepared(w0)
        for m in ms:
            rel = check(scheme, w0, w_ref, k, n, m)
            a = torch.randn(m, k, device="cuda", dtype=torch.float16)
            out = torch.empty(m, n, device="cuda", dtype=torch.float16)
            work = marlin.make_workspace(m, n, k)
            call_s = one_call_us(functools.partial(marlin.gemm, a, w0, out=out, workspace=work))
            call_s *= 1e-6
            reps = max(1, math.ceil(args.min_calls / nbuf))
            if call_s * nbuf * reps > 0.05:  # slow calls: the weight rotation alone
                reps = 1
            calls = [
                functools.partial(marlin.gemm, a, w, out=out, workspace=work) for w in ws
            ] * reps
            est = call_s * len(calls)
            replays = max(5, min(args.replays, int(args.max_case_s / max(est, 1e-9))))
            t_marlin = graph_time_us(calls, replays)
            t_cublas = None
            if not args.no_cublas:
                key = (k, n, m)
                if key not in cublas_cache:
                    cublas_cache[key] = cublas_time(k, n, m, args, a)
                t_cublas = cublas_cache[key]
            moved = wb + 2 * m * k + 2 * m * n
            floor = max(moved / bw, 2.0 * m * n * k / (args.dense_tflops * 1e12)) * 1e6
            row = {
                "scheme": scheme,
                "k": k,
                "n": n,
                "m": m,
                "marlin_us": t_marlin,
                "pct_copy_bw": 100.0 * moved / bw * 1e6 / t_marlin,
                "cublas_us": t_cublas,
                "floor_us": floor,
                "upstream_us": upstream_us(scheme, k, n, m),
                "mean_rel": rel,
                "calls_per_graph": len(calls),
                "weight_buffers": nbuf,
                "replays": replays,
            }
            rows.append(row)
            print(
                f"{scheme} {k}x{n} M={m}: marlin {t_marlin:.1f} us "
                f"({row['pct_copy_bw']:.0f}% BW), cuBLAS {fmt_us(t_cublas)} us, floor "
                f"{floor:.1f} us, upstream {fmt_us(row['upstream_us'])} us "
                f"[rel {rel:.1e}, {len(calls)} calls x {replays}]",
                flush=True,
            )
            save()
            del a, out, work, calls
        del ws, w0, w_ref
        torch.cuda.empty_cache()
    save()
    print()
    print(markdown(rows, meta))
    print(f"wrote {args.out} and {md_path} ({time.monotonic() - t_start:.0f} s)")


def cublas_time(k, n, m, args, a):
    """torch.matmul(A[M,K], W[K,N]) fp16 over rotating fp16 weights."""
    wbytes = 2 * k * n
    nbuf = max(1, math.ceil(args.rotate_mb * 1e6 / wbytes))
    torch.manual_seed(args.seed)
    ws = [torch.randn(k, n, device="cuda", dtype=torch.float16) for _ in range(nbuf)]
    out = torch.empty(m, n, device="cuda", dtype=torch.float16)
    reps = max(1, math.ceil(args.min_calls / nbuf))
    calls = [functools.partial(torch.matmul, a, w, out=out) for w in ws] * reps
    t = graph_time_us(calls, args.replays)
    del ws, out, calls
    torch.cuda.empty_cache()
    return t


if __name__ == "__main__":
    main()
