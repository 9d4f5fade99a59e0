"""Shared helpers of the GPU suite: seeded inputs, weight cache, error metrics, build queries."""

from __future__ import annotations

import collections
import functools
import os
import subprocess
import sys
import zlib

import pytest
from seed import SEED

import marlin
from marlin import quant

TOLERANCE = 0.04  # upstream's criterion: mean|out - ref| / mean|ref|


def seed_for(*parts) -> int:
    return (SEED ^ zlib.crc32(repr(parts).encode())) & 0x7FFFFFFF


def run_child(tmp_path, body: str, env: dict, tag: str):
    """Runs `body` (Python that writes its results to the path in sys.argv[1]) in a fresh process
    that imports this suite's marlin and helpers, with MARLIN_TEST_SEED fixed so that every child
    draws the same inputs and `env` set (a value of None removes the variable). Returns the
    process and the result path."""
    here = os.path.dirname(os.path.abspath(__file__))
    python_dir = os.path.dirname(os.path.dirname(os.path.abspath(marlin.__file__)))
    script = tmp_path / f"child_{tag}.py"
    script.write_text(f"import sys\nsys.path[:0] = [{python_dir!r}, {here!r}]\n" + body)
    child_env = dict(os.environ, MARLIN_TEST_SEED=str(SEED))
    for name, value in env.items():
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = value
    result_path = tmp_path / f"out_{tag}.pt"
    proc = subprocess.run(
        [sys.executable, str(script), str(result_path)],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, result_path


def torch_dtype(name):
    import torch

    return {"float16": torch.float16, "bfloat16": torch.bfloat16}[name]


@functools.lru_cache(maxsize=1)
def built() -> dict:
    return marlin.built_schemes()


def fp8_activation_built() -> bool:
    return any(k.a_type == marlin.scalar_types.kFE4M3fn for k in marlin.kernels())


def require_kernel(case) -> None:
    """Skips (with the reason) when this libmarlin.so has no kernel for the case."""
    if case.activation == "fp8" and not fp8_activation_built():
        pytest.skip(f"{case.scheme}: fp8 activation not built in this libmarlin.so")
    served = built().get(case.scheme, set())
    if not served:
        pytest.skip(f"scheme {case.scheme} not built in this libmarlin.so")
    if (case.a_type, case.c_type, case.group_blocks) not in served:
        pytest.skip(
            f"{case.scheme}: no kernel for a={case.a_type} c={case.c_type} "
            f"group_blocks={case.group_blocks} in this libmarlin.so"
        )


def skip_if_fp8_unsupported(err: marlin.MarlinError, case) -> None:
    """FP8-activation kernels may be refused on this device: skip with the library's reason."""
    if case.activation == "fp8" and err.code in (
        marlin.MARLIN_ERR_NO_KERNEL,
        marlin.MARLIN_ERR_UNSUPPORTED_DEVICE,
    ):
        pytest.skip(f"{case.scheme}: library refused fp8 activation here: {err}")


class WeightCache:
    """Quantized + prepared weights by case.weight_key (a few kept: w_ref can be large)."""

    def __init__(self, size: int = 6):
        self.size = size
        self.items: collections.OrderedDict = collections.OrderedDict()

    def get(self, case):
        key = case.weight_key
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        import torch

        gen_seed = seed_for("w", *key)
        torch.manual_seed(gen_seed)
        w = torch.randn(case.k, case.n, device="cuda")
        dt = torch_dtype(case.dtype)
        if case.fmt == "gptq":
            q = quant.quantize_gptq(
                w, bits=case.bits, group_size=case.group_size, act_order=case.act_order, dtype=dt
            )
        elif case.fmt == "awq":
            q = quant.quantize_awq(w, group_size=case.group_size, dtype=dt)
        elif case.fmt == "hqq":
            q = quant.quantize_hqq(w, group_size=case.group_size, dtype=dt)
        elif case.fmt == "fp8":
            q = quant.quantize_fp8(w, group_size=case.group_size, dtype=dt)
        elif case.fmt == "nvfp4":
            q = quant.quantize_nvfp4(w)
        else:
            q = quant.quantize_mxfp4(w)
        kwargs = {"activation": case.activation}
        if case.fmt in ("gptq", "awq", "fp8"):
            kwargs["dtype"] = dt
        prepared = q.prepare(**kwargs)
        entry = (q, prepared, q.w_ref.double(), gen_seed)
        self.items[key] = entry
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return entry


def errors(out, ref) -> dict:
    """mean_rel (the pass criterion), max_rel = max|d| / max|ref|, max_abs."""
    d = (out.double() - ref).abs()
    mean_ref = ref.abs().mean().item()
    return {
        "mean_rel": d.mean().item() / max(mean_ref, 1e-30),
        "max_rel": d.max().item() / max(ref.abs().max().item(), 1e-30),
        "max_abs": d.max().item(),
    }
