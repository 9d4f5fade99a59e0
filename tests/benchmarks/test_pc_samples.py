"""CPU tests of benchmarks/pc_samples.py on a hand-made ncu source-page CSV."""

from __future__ import annotations

import csv

import pc_samples
import pytest

SASS = [
    ("LDC R1, c[0x0][0x28]", 10),
    ("LDS.128 R4, [R2]", 5),
    ("HMMA.16816.F32 R8, R4, R12, R8", 20),
    ("LOP3.LUT R4, R5, 0xf, RZ, 0xc0, !PT", 15),
    ("@P0 HMMA.16816.F32 R16, R4, R12, R16", 10),
    ("BAR.SYNC.DEFER_BLOCKING 0x0", 10),
    ("@P1 STG.E.128.STRONG.GPU desc[UR4][R2.64], R8", 5),
    ("ERRBAR", 20),
    ("STG.E.64 desc[UR4][R6.64], R10", 5),
]


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Kernel Name", "void marlin::Marlin<...>(...)"])
        w.writerow(["Address", "Source", pc_samples.SAMPLES_COLUMN, "# Samples"])
        for i, (text, samples) in enumerate(rows):
            w.writerow([hex(0x1000 + 16 * i), "  " + text, str(samples), str(samples)])


def test_regions_follow_the_tensor_core_instructions_and_the_partial_store(tmp_path):
    path = tmp_path / "case.csv"
    write_csv(path, SASS)
    ins = pc_samples.read_instructions(str(path))
    assert ins[0] == ("LDC R1, c[0x0][0x28]", 10)
    r = pc_samples.region_shares(ins)
    assert r["before"] == pytest.approx(15 / 100)
    assert r["between"] == pytest.approx(45 / 100)
    assert r["after"] == pytest.approx(40 / 100)
    assert r["split_k"] == pytest.approx(30 / 100)  # from the predicated strong store on
    assert pc_samples.top_after(ins, 2) == [(0.2, "ERRBAR"), (0.1, "BAR.SYNC.DEFER_BLOCKING 0x0")]


def test_no_split_k_store_and_no_tensor_core_instruction(tmp_path):
    no_split = [row for row in SASS if "STRONG" not in row[0]]
    assert pc_samples.region_shares(no_split)["split_k"] == 0.0
    with pytest.raises(ValueError, match="no tensor-core instruction"):
        pc_samples.region_shares([row for row in SASS if "HMMA" not in row[0]])
