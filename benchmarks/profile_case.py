"""One marlin.gemm case, launched a few times, for Nsight Compute (GPTQ int4 g128, fp16).

    ncu --clock-control none -k regex:Marlin --launch-skip 2 --launch-count 1 \\
        python3 benchmarks/profile_case.py --k 8192 --n 28672 --m 1

Fresh random inputs; the output is checked against a float64 reference the way gemm_bench.py
checks it (rel_error < TOLERANCE), so a profile of a wrong kernel is not mistaken for a fast one.
"""

from __future__ import annotations

import argparse
import sys

import torch
from gemm_bench import TOLERANCE  # the same folder: the bundle's benchmarks/
from gemm_bench import rel_error

import marlin
from marlin import quant


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--m", type=int, required=True)
    p.add_argument("--calls", type=int, default=4)
    args = p.parse_args()
    torch.manual_seed(0)
    q = quant.quantize_gptq(torch.randn(args.k, args.n, device="cuda"), group_size=128)
    w = marlin.prepare_weights("gptq", **q.tensors)
    a = torch.randn(args.m, args.k, device="cuda", dtype=torch.float16)
    out = torch.empty(args.m, args.n, device="cuda", dtype=torch.float16)
    ws = marlin.make_workspace(args.m, args.n, args.k)
    for _ in range(args.calls):
        marlin.gemm(a, w, out=out, workspace=ws)
    torch.cuda.synchronize()
    err = rel_error(out, quant.reference_gemm(a, w))
    print(f"K={args.k} N={args.n} M={args.m}: mean relative error {err:.2e}")
    return 0 if err < TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
