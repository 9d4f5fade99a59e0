"""Measures every exec config the dispatcher could pick, per (K, N, M), on the GPU at hand.

Runs on the GPU machine from a bundle (tools/build_gpu_bundle.sh copies it next to
gemm_bench.py). For each shape and M it times marlin.gemm with the dispatcher's own choice and
with each candidate exec config forced through marlin_gemm_with_config (thread config x M tile x
split-K factor), with gemm_bench.py's Timer (CUDA graph over rotating weight buffers, CUDA events,
median of replays). The JSON it writes is the input of tools/dispatch_table.py, which derives
marlin's dispatch table (marlin/csrc/generated/dispatch_table.h) from it:

    MARLIN_LIBRARY=$PWD/libmarlin.so PYTHONPATH=python python3 benchmarks/tune_dispatch.py \\
        --out $OUT/tune.json [--shapes 4096x4096,...] [--ms 1,16,64] [--dtype float16]
        [--activation int8|fp8] [--bits 8]

--activation times gptq_int4_a_int8 / gptq_int4_a_fp8 (per-row quantized activations) instead of
the 16-bit scheme, --bits 8 GPTQ int8 weights instead of int4; the dispatch table keeps their
entries apart (the header's a_bits and b_bits).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import subprocess
import sys
import time

import torch
from gemm_bench import MS  # the same folder: the bundle's benchmarks/
from gemm_bench import SHAPES
from gemm_bench import Timer
from gemm_bench import clone_weights
from gemm_bench import rel_error

import marlin
from marlin import _lib
from marlin import quant

# (threads, thread_k, thread_n): the thread configs every preset file instantiates.
THREAD_CONFIGS = ((256, 128, 128), (128, 64, 128), (128, 128, 64), (256, 64, 256))
SPLITS = (1, 2, 3, 4, 5, 6, 7, 8)
# The most rows a split launch has (exec_config.h: kSplitKMaxRows; //tests/dispatch compares
# them, and SPLITS with kMaxSplitK).
SPLIT_K_MAX_ROWS = 256
QUANTIZE_ACTIVATION = {"int8": quant.quantize_activation_int8, "fp8": quant.quantize_activation_fp8}


def m_tiles_for(m: int, activation: str | None = None) -> list[tuple[int, bool]]:
    """(thread_m_blocks, m_block_size_8) candidates for a single pass of m rows (8-bit
    activations have no 8-row tile: schemes.M_BLOCKS_8BIT)."""
    if m <= 8:
        return [(1, False)] if activation else [(1, True), (1, False)]
    if m <= 16:
        return [(1, False)]
    if m <= 32:
        return [(2, False), (1, False)]
    return [(4, False), (2, False)]


def candidates(k: int, n: int, m: int, max_splits: int, activation: str | None = None):
    for threads, tk, tn in THREAD_CONFIGS:
        if k % tk or n % tn:
            continue
        for tmb, m8 in m_tiles_for(m, activation):
            for s in SPLITS if m <= SPLIT_K_MAX_ROWS else (1,):
                if s > max_splits or s > k // tk:
                    continue
                yield (threads, tk, tn, tmb, m8, s)


class Case:
    """One (shape, M) problem: activations, rotating prepared weights, output, reference."""

    def __init__(self, a, ws, out, work, ref, name, replays, a_scales=None):
        self.a, self.ws, self.out, self.work, self.ref, self.name = a, ws, out, work, ref, name
        self.replays, self.a_scales = replays, a_scales

    def call(self, w):
        return marlin.gemm(self.a, w, a_scales=self.a_scales, out=self.out, workspace=self.work)

    def measure(self, timer, config, label):
        """us per call with `config` forced (None: the dispatcher's), an error text, or None if
        the output is wrong."""
        forced = _lib.forced_exec_config(*config) if config else contextlib.nullcontext()
        with forced:
            return self._measure(timer, label)

    def _measure(self, timer, label):
        try:
            self.call(self.ws[0])
            err = rel_error(self.out, self.ref)
            if not err < 0.01:
                print(f"WRONG {self.name} {label}: rel err {err:.3e}", flush=True)
                return None
            calls = [lambda w=w: self.call(w) for w in self.ws]
            return timer.median_us(timer.capture(calls), len(calls), self.replays)
        except marlin.MarlinError as e:
            return str(e).splitlines()[0][:120]


def write(path, header, rows):
    with open(path, "w") as f:
        json.dump({"header": header, "rows": rows}, f, indent=1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default=",".join(f"{k}x{n}" for k, n in SHAPES))
    p.add_argument("--ms", default=",".join(map(str, MS)))
    p.add_argument("--dtype", default="float16", choices=("float16", "bfloat16"))
    p.add_argument("--rotate-mb", type=float, default=200.0)
    p.add_argument("--replays", type=int, default=20)
    p.add_argument(
        "--activation", choices=("int8", "fp8"), help="8-bit activations (gptq_int4_a_*)"
    )
    p.add_argument("--bits", type=int, default=4, choices=(4, 8), help="GPTQ weight bits")
    p.add_argument("--out", default="tune.json")
    args = p.parse_args()
    if args.activation and args.bits != 4:
        p.error("--activation times the int4 schemes gptq_int4_a_*: it takes no --bits 8")
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    ms = [int(x) for x in args.ms.split(",")]
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    timer = Timer()
    rows, started = [], time.time()
    prop = torch.cuda.get_device_properties(0)
    header = {
        "card": prop.name,
        "sms": prop.multi_processor_count,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": os.environ.get("MARLIN_COMMIT")
        or subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "command": " ".join(sys.argv),
        "dtype": args.dtype,
        "scheme": f"gptq_int4_a_{args.activation} g128"
        if args.activation
        else f"gptq_int{args.bits} g128",
        # tools/dispatch_table.py keys entries by both
        "a_bits": 8 if args.activation else 16,
        "b_bits": args.bits,
        "candidate_fields": [
            "threads",
            "thread_k",
            "thread_n",
            "thread_m_blocks",
            "m_block_size_8",
            "splits",
        ],
    }
    for k, n in shapes:
        q = quant.quantize_gptq(
            torch.randn(k, n, device="cuda") * 0.05, bits=args.bits, group_size=128, dtype=dtype
        )
        w = marlin.prepare_weights("gptq", activation=args.activation, **q.tensors)
        copies = max(2, int(args.rotate_mb * 2**20 // (k * n * args.bits // 8)) + 1)
        ws = [w] + [clone_weights(w) for _ in range(copies - 1)]
        for m in ms:
            a = torch.randn(m, k, device="cuda", dtype=dtype)
            a_scales = None
            if args.activation:
                a, a_scales = QUANTIZE_ACTIVATION[args.activation](a)
            out = torch.empty(m, n, device="cuda", dtype=dtype)
            work = marlin.make_workspace(m, n, k, a.dtype)
            ref = quant.reference_gemm(a, w, a_scales=a_scales, dtype=torch.float32)
            max_splits = 8  # the library refuses what its workspace cannot take

            case = Case(a, ws, out, work, ref, f"{k}x{n} m={m}", args.replays, a_scales)
            auto = case.measure(timer, None, "auto")
            rows.append({"k": k, "n": n, "m": m, "config": "auto", "us": auto})
            best = None
            for cfg in candidates(k, n, m, max_splits, args.activation):
                us = case.measure(timer, cfg, cfg)
                rows.append({"k": k, "n": n, "m": m, "config": list(cfg), "us": us})
                if isinstance(us, float) and (best is None or us < best[1]):
                    best = (cfg, us)
            if best:
                print(
                    f"{k}x{n} m={m:5d}: auto {auto:8.1f} us  best {best[1]:8.1f} us {best[0]}",
                    flush=True,
                )
        write(args.out, header, rows)  # after every shape: a run cut short keeps its data
    write(args.out, header, rows)
    print(f"wrote {args.out} ({len(rows)} rows, {time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
