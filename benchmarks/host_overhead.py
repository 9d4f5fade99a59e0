"""Eager per-call host overhead of marlin.gemm against torch.matmul at M = 1 (no CUDA graph).

Runs on the GPU machine from a bundle. Each call is launched eagerly on the current stream; the
host time per call is the wall time of `calls` back-to-back calls divided by `calls`, measured
while the GPU is kept busy behind a spin kernel so that the host never waits for the GPU (what
is measured is the Python + C ABI + launch work, not the kernel). Median of `rounds`. A round in
which the GPU ran dry before the host finished is reported (it may include kernel time).

Prints a markdown table and writes the numbers as JSON to --out (default host_overhead.json):

    cd gpu_bundle && MARLIN_LIBRARY=$PWD/libmarlin.so PYTHONPATH=python \\
        python3 benchmarks/host_overhead.py --out host_overhead.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

import marlin
from marlin import quant
from marlin import torch_ops

SPIN_CYCLES = int(2e8)  # about 0.1 s of GPU time: longer than any round's launches


def host_us(fn, calls: int, rounds: int) -> tuple[float, int]:
    """Median host microseconds per call, and the rounds in which the GPU ran dry."""
    per_round = []
    dry = 0
    for _ in range(rounds):
        torch.cuda.synchronize()
        torch.cuda._sleep(SPIN_CYCLES)  # keep the GPU busy: launches only queue
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        per_round.append((time.perf_counter() - start) / calls * 1e6)
        dry += torch.cuda.current_stream().query()  # True: nothing left queued
        torch.cuda.synchronize()
    return statistics.median(per_round), dry


def _commit() -> str:
    """The commit the bundle was built from (gpu_bundle/COMMIT, tools/build_gpu_bundle.sh)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "COMMIT")
    if not os.path.exists(path):
        return "unknown"
    with open(path) as f:
        return f.read().strip()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=4096)
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--out", default="host_overhead.json", help="JSON results file")
    args = p.parse_args()
    k, n = args.k, args.n
    torch.manual_seed(0)
    q = quant.quantize_gptq(torch.randn(k, n, device="cuda") * 0.05, group_size=128)
    w = marlin.prepare_weights("gptq", **q.tensors)
    a = torch.randn(1, k, device="cuda", dtype=torch.float16)
    out = torch.empty(1, n, device="cuda", dtype=torch.float16)
    ws = marlin.make_workspace(1, n, k)
    w16 = torch.randn(k, n, device="cuda", dtype=torch.float16)
    out16 = torch.empty(1, n, device="cuda", dtype=torch.float16)

    # The marlin result must be the GEMM it claims to be before its time means anything.
    got = marlin.gemm(a, w, out=out, workspace=ws).double()
    want = a.double() @ q.w_ref.double()
    rel = ((got - want).norm() / want.norm()).item()
    if not rel < 1e-2:
        print(f"marlin.gemm is wrong here (relative error {rel:.3g}); not timing it")
        return 1

    rows = {
        "marlin.gemm (out, workspace given)": lambda: marlin.gemm(a, w, out=out, workspace=ws),
        "marlin.gemm (allocates out, workspace)": lambda: marlin.gemm(a, w),
        "torch.ops.marlin.gemm (marlin.torch_ops.gemm)": lambda: torch_ops.gemm(a, w),
        "torch.matmul (out given)": lambda: torch.matmul(a, w16, out=out16),
        "torch.matmul": lambda: torch.matmul(a, w16),
    }
    for fn in rows.values():  # warm-up: caches, allocator, first-launch setup
        for _ in range(10):
            fn()
    torch.cuda.synchronize()

    device = torch.cuda.get_device_name()
    print(f"{device}, K={k} N={n} M=1, {args.calls} calls x {args.rounds} rounds")
    print("| call | host us per call |\n|---|---:|")
    results = {}
    for name, fn in rows.items():
        us, dry = host_us(fn, args.calls, args.rounds)
        results[name] = {"host_us_per_call": round(us, 2), "rounds_gpu_ran_dry": dry}
        note = f" (GPU ran dry in {dry} of {args.rounds} rounds)" if dry else ""
        print(f"| {name} | {us:.1f}{note} |")
    ratio = (
        results["marlin.gemm (out, workspace given)"]["host_us_per_call"]
        / results["torch.matmul (out given)"]["host_us_per_call"]
    )
    print(f"\nmarlin.gemm / torch.matmul (both with out): {ratio:.2f}x")
    report = {
        "device": device,
        "commit": _commit(),
        "torch": torch.__version__,
        "shape": {"m": 1, "k": k, "n": n},
        "calls": args.calls,
        "rounds": args.rounds,
        "results": results,
        "marlin_over_matmul": round(ratio, 3),
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
