"""The sm_90a wgmma variant compiles as designed (design.md section 11, "Hopper variant").

kernel_compile_smoke.cu instantiates one config per scheme. Compiled for sm_90a, the configs with
a 32-64-row tile must issue wgmma.mma_async and the others must not (8- and 16-row tiles stay on
mma.sync); the 64-row ones whose warpgroups own one 64-column unit each must also carry the wide
128-row tile (m64n128k16). ptxas must keep every wgmma pipeline asynchronous: its note C7513
("wgmma.mma_async instructions are serialized") would silently cost the variant the overlap of
dequantization and multiplication that it exists for, while every result stayed right. Also no
register spills.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import tempfile

import pytest

HERE = pathlib.Path(__file__).resolve().parent
SMOKE = HERE / "kernel_compile_smoke.cu"
INCLUDE = HERE.parent.parent / "marlin" / "include"

# Marlin<a, b, c, s, threads, thread_m_blocks, thread_n_blocks, thread_k_blocks, m_block_size_8,
# stages, group_blocks, is_zp_float>, as the smoke file spells its instantiations.
_INSTANTIATION = re.compile(
    r"Marlin<marlin::(\w+)\.id\(\), marlin::(\w+)\.id\(\), (?:marlin::\w+\.id\(\), ){2}"
    r"(\d+), (\d+), (\d+), \d+, (true|false), (\d+), -?\d+, (?:true|false)>"
)
_SIXTEEN_BIT = {"kFloat16", "kBFloat16"}
_FOUR_BIT = {"kU4", "kU4B8", "kS4", "kFE2M1f"}


def wants_wgmma(a_type: str, threads: int, m_blocks: int, bm8: bool, stages: int) -> bool:
    """The test's oracle for kernel_config.h's wgmma_shape(...).valid (the tensor-core body, 16-bit
    activations, 32-64 rows), on the smoke file's tiles (all of which fit a warp layout)."""
    mma_body = a_type in _SIXTEEN_BIT and stages > 2
    return mma_body and not bm8 and m_blocks >= 2 and threads % 128 == 0


def wants_wide_tile(b_type: str, threads: int, m_blocks: int, n_blocks: int, stages: int) -> bool:
    """The oracle for kernel_config.h's has_wide_tile on a wgmma config: 4-bit weights, 64 rows,
    4+ stages, and each warpgroup one 64-column unit (warpgroups split the units evenly)."""
    units = 16 * n_blocks // 64
    one_unit = units // min(threads // 128, units) == 1
    return b_type in _FOUR_BIT and m_blocks == 4 and stages >= 4 and one_unit


def instantiations() -> list[tuple[str, bool, bool]]:
    """(instantiation, issues wgmma, has the wide tile) per instantiation of the smoke file."""
    found = []
    for m in _INSTANTIATION.finditer(SMOKE.read_text()):
        a_type, b_type, threads, m_blocks, n_blocks, bm8, stages = m.groups()
        want = wants_wgmma(a_type, int(threads), int(m_blocks), bm8 == "true", int(stages))
        wide = want and wants_wide_tile(
            b_type, int(threads), int(m_blocks), int(n_blocks), int(stages)
        )
        found.append((m.group(0), want, wide))
    return found


def nvcc(*args: str) -> subprocess.CompletedProcess:
    cmd = [os.environ.get("MARLIN_NVCC", "nvcc"), "-std=c++17", "-O3", "-I", str(INCLUDE)]
    if os.environ.get("MARLIN_CCBIN"):  # the build's host compiler (BUILD.bazel)
        cmd += ["-ccbin", os.environ["MARLIN_CCBIN"]]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def ptx() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "smoke.ptx"
        done = nvcc("-arch=compute_90a", "-ptx", str(SMOKE), "-o", str(out))
        assert done.returncode == 0, done.stderr[-3000:]
        return out.read_text()


@pytest.fixture(scope="module")
def ptxas_report() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        done = nvcc(
            "-gencode",
            "arch=compute_90a,code=sm_90a",
            "-Xptxas",
            "-v",
            "-c",
            str(SMOKE),
            "-o",
            str(pathlib.Path(tmp) / "smoke.o"),
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout + done.stderr


def _entries(ptx: str) -> dict[str, str]:
    """PTX body of each kernel entry, keyed by its mangled name."""
    bodies = {}
    for block in re.split(r"\n(?=\.visible \.entry )", ptx)[1:]:
        name = re.match(r"\.visible \.entry (\S+)\(", block).group(1)
        bodies[name] = block
    return bodies


def test_the_smoke_file_covers_both_bodies():
    kinds = {want for _, want, _ in instantiations()}
    assert kinds == {True, False}, "the smoke file needs wgmma and mma.sync configs"
    wide = {wide for _, want, wide in instantiations() if want}
    assert wide == {True, False}, "the smoke file needs wgmma configs with and without wide tile"


def test_exactly_the_32_to_64_row_tiles_issue_wgmma(ptx):
    bodies = _entries(ptx)
    assert len(bodies) == len(instantiations()), "one PTX entry per instantiation"
    with_wgmma = sum("wgmma.mma_async" in body for body in bodies.values())
    assert with_wgmma == sum(want for _, want, _ in instantiations())
    for body in bodies.values():
        if "wgmma.mma_async" in body:
            assert "mma.sync" not in body, "a wgmma kernel also multiplies with mma.sync"


def test_exactly_the_wide_tile_configs_issue_128_row_wgmma(ptx):
    bodies = _entries(ptx).values()
    with_wide = sum(".m64n128k16." in body for body in bodies)
    assert with_wide == sum(wide for _, _, wide in instantiations())


def test_ptxas_keeps_every_wgmma_pipeline_asynchronous(ptxas_report):
    assert "C7513" not in ptxas_report, [
        line for line in ptxas_report.splitlines() if "C7513" in line
    ]


def test_no_kernel_spills_registers(ptxas_report):
    spills = re.findall(r"(\d+) bytes spill stores", ptxas_report)
    assert spills, "ptxas -v printed no spill lines"
    assert all(s == "0" for s in spills), ptxas_report[-3000:]
