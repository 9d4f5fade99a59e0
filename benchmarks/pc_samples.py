"""Where a Marlin kernel's warps wait, by region, from Nsight Compute's per-instruction samples.

    ncu --clock-control none -k regex:Marlin --launch-skip 2 --launch-count 1 \\
        --section SourceCounters -o rep python3 benchmarks/profile_case.py --k 4096 --n 4096 --m 32
    ncu --import rep.ncu-rep --page source --csv --print-source sass > case.csv
    python3 benchmarks/pc_samples.py case.csv [case2.csv ...]

Prints, per CSV, the share of warp stall samples (all samples) in three regions of the SASS, in
address order: up to the first tensor-core instruction (HMMA / HGMMA), up to the last one, and
after it; and, after the last one, the part from the first split-K partial store on (a
`STG...STRONG.GPU`: `__stcg`), which holds the split-K hand-off (fence, arrival atomic, the last
split's partial loads) and the epilogue. Then the most-sampled instructions after the last
tensor-core instruction. The regions are approximate (the main loop's dequantization before its
first mma counts as "before"), so compare them between cases and variants, not as phase times.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys

SAMPLES_COLUMN = "Warp Stall Sampling (All Samples)"
TENSOR_OP = re.compile(r"\b(HMMA|HGMMA)\b")
PARTIAL_STORE = re.compile(r"\bSTG\.\S*STRONG\.GPU\b")  # __stcg


def read_instructions(path: str) -> list[tuple[str, int]]:
    """(SASS text, samples) per instruction, in address order, from ncu's source-page CSV."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header_at = next(i for i, r in enumerate(rows) if "Source" in r and SAMPLES_COLUMN in r)
    header = rows[header_at]
    src, samples = header.index("Source"), header.index(SAMPLES_COLUMN)
    return [
        (r[src].strip(), int(r[samples] or 0))
        for r in rows[header_at + 1 :]
        if len(r) > max(src, samples)
    ]


def tensor_span(instructions: list[tuple[str, int]]) -> tuple[int, int, int]:
    """(all samples, index of the first tensor-core instruction, index of the last one)."""
    total = sum(s for _, s in instructions)
    tensor = [i for i, (text, _) in enumerate(instructions) if TENSOR_OP.search(text)]
    if total == 0 or not tensor:
        raise ValueError("no samples or no tensor-core instruction: not a tensor-core kernel")
    return total, tensor[0], tensor[-1]


def region_shares(instructions: list[tuple[str, int]]) -> dict[str, float]:
    """Shares of all samples: before / between / after the tensor-core instructions, and split_k
    (after the last one, from the first strong partial store on; 0 when there is none)."""
    total, first, last = tensor_span(instructions)
    stores = [
        i for i, (text, _) in enumerate(instructions) if i > last and PARTIAL_STORE.search(text)
    ]

    def share(lo: int, hi: int) -> float:
        return sum(s for _, s in instructions[lo:hi]) / total

    n = len(instructions)
    return {
        "before": share(0, first),
        "between": share(first, last + 1),
        "after": share(last + 1, n),
        "split_k": share(stores[0], n) if stores else 0.0,
    }


def top_after(instructions: list[tuple[str, int]], count: int = 8) -> list[tuple[float, str]]:
    """The most-sampled instructions after the last tensor-core one: (share, SASS text)."""
    total, _, last = tensor_span(instructions)
    tail = sorted(((s, text) for text, s in instructions[last + 1 :]), reverse=True)[:count]
    return [(s / total, text) for s, text in tail]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv", nargs="+", help="ncu --page source --csv --print-source sass output")
    args = p.parse_args()
    for path in args.csv:
        ins = read_instructions(path)
        r = region_shares(ins)
        print(
            f"{path}: {sum(s for _, s in ins)} samples; before the first mma {r['before']:.1%}, "
            f"first..last mma {r['between']:.1%}, after {r['after']:.1%} "
            f"(split-K hand-off and epilogue {r['split_k']:.1%})"
        )
        for share, text in top_after(ins):
            print(f"    {share:6.2%}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
