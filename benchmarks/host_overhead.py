"""Eager per-call host overhead of marlin.gemm against torch.matmul at M = 1 (no CUDA graph).

Runs on the GPU machine from a bundle. Each call is launched eagerly on the current stream with
the output (and marlin's workspace) preallocated; the host time per call is the wall time of
`calls` back-to-back calls divided by `calls`, measured while the GPU is kept busy behind a spin
kernel so that the launch queue never blocks the host (what is measured is the Python + C ABI +
launch work, not the kernel). Median of `rounds`.

    MARLIN_LIBRARY=$PWD/libmarlin.so PYTHONPATH=python python3 benchmarks/host_overhead.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import marlin
from marlin import quant


def host_us(fn, calls: int, rounds: int) -> float:
    per_round = []
    for _ in range(rounds):
        torch.cuda.synchronize()
        torch.cuda._sleep(int(2e8))  # keep the GPU busy: launches only queue
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        per_round.append((time.perf_counter() - start) / calls * 1e6)
        torch.cuda.synchronize()
    return statistics.median(per_round)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=4096)
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    k, n = args.k, args.n
    q = quant.quantize_gptq(torch.randn(k, n, device="cuda") * 0.05, group_size=128)
    w = marlin.prepare_weights("gptq", **q.tensors)
    a = torch.randn(1, k, device="cuda", dtype=torch.float16)
    out = torch.empty(1, n, device="cuda", dtype=torch.float16)
    ws = marlin.make_workspace(1, n, k)
    w16 = torch.randn(k, n, device="cuda", dtype=torch.float16)
    out16 = torch.empty(1, n, device="cuda", dtype=torch.float16)
    for _ in range(10):
        marlin.gemm(a, w, out=out, workspace=ws)
        torch.matmul(a, w16, out=out16)
    rows = {
        "marlin.gemm (out, workspace given)": lambda: marlin.gemm(a, w, out=out, workspace=ws),
        "marlin.gemm (allocates out, workspace)": lambda: marlin.gemm(a, w),
        "torch.matmul (out given)": lambda: torch.matmul(a, w16, out=out16),
        "torch.matmul": lambda: torch.matmul(a, w16),
    }
    print(f"{torch.cuda.get_device_name()}, K={k} N={n} M=1, {args.calls} calls x {args.rounds}")
    print("| call | host us per call |\n|---|---:|")
    for name, fn in rows.items():
        print(f"| {name} | {host_us(fn, args.calls, args.rounds):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
