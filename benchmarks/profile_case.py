"""One marlin.gemm case, launched a few times, for Nsight Compute (any scheme of gemm_bench.py).

    ncu --clock-control none -k regex:Marlin --launch-skip 2 --launch-count 1 \\
        python3 benchmarks/profile_case.py --k 8192 --n 28672 --m 1 [--scheme nvfp4]

Inputs are quantized and prepared exactly as gemm_bench.py does for the scheme (fresh random
weights and activations); the output is checked against the same float64 reference (rel_error <
TOLERANCE), so a profile of a wrong kernel is not mistaken for a fast one.
"""

from __future__ import annotations

import argparse
import sys

import torch
from gemm_bench import HEADLINE  # the same folder: the bundle's benchmarks/
from gemm_bench import SCHEMES
from gemm_bench import TOLERANCE
from gemm_bench import make_activations
from gemm_bench import prepare
from gemm_bench import quantize
from gemm_bench import rel_error

import marlin


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--m", type=int, required=True)
    p.add_argument("--scheme", default=HEADLINE, choices=sorted(SCHEMES))
    p.add_argument("--calls", type=int, default=4)
    args = p.parse_args()
    s = SCHEMES[args.scheme]
    q = quantize(s, args.k, args.n, seed=0, device="cuda")
    w = prepare(s, q)
    _, a, a_scales, a_ref = make_activations(s, args.m, args.k, seed=1, device="cuda")
    out = torch.empty(args.m, args.n, device="cuda", dtype=getattr(torch, s.dtype))
    ws = marlin.make_workspace(args.m, args.n, args.k, a_dtype=s.a_dtype, device="cuda")
    for _ in range(args.calls):
        marlin.gemm(a, w, a_scales=a_scales, out=out, workspace=ws)
    torch.cuda.synchronize()
    err = rel_error(out, a_ref @ q.w_ref.double())
    print(f"{args.scheme} K={args.k} N={args.n} M={args.m}: mean relative error {err:.2e}")
    return 0 if err < TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
