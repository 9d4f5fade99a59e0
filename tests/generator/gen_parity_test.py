"""Parity with upstream's generator: the golden derived from the shared conformance data."""

import pytest
import upstream_golden as golden

from tools.marlin_gen import plan

GOLDEN = golden.load()


def _records(arch_list):
    p = plan.plan_for_archs(arch_list)
    return [
        (f.name, index, selector_index, golden.param_line(inst))
        for selector_index, (f, index, inst) in enumerate(p.instantiations)
    ], p


def test_golden_covers_the_reference_arch_lists():
    assert sorted(GOLDEN) == sorted(["8.0", "8.0,8.9", "7.5,8.0,8.9,9.0", "8.0,8.9,9.0,12.0"])
    assert {k: v["total"] for k, v in GOLDEN.items()} == {
        "8.0": 732,
        "8.0,8.9": 936,
        "7.5,8.0,8.9,9.0": 1302,
        "8.0,8.9,9.0,12.0": 936,
    }


@pytest.mark.parametrize("arch_list", sorted(GOLDEN))
def test_instantiation_set_matches_upstream(arch_list):
    records, _ = _records(arch_list)
    mine = {(r[0], r[3]) for r in records}
    upstream = {(r[0], r[3]) for r in GOLDEN[arch_list]["records"]}
    assert len(mine) == len(records), "the generator emitted a duplicate"
    missing, extra = sorted(upstream - mine), sorted(mine - upstream)
    assert not missing and not extra, f"missing {missing[:5]} extra {extra[:5]}"
    lines = [f"{r[0]}|{r[3]}" for r in records]
    assert golden.digest(lines) == GOLDEN[arch_list]["sha256"]


@pytest.mark.parametrize("arch_list", sorted(GOLDEN))
def test_per_file_counts_match_upstream(arch_list):
    _, p = _records(arch_list)
    assert {f.name: len(f.instantiations) for f in p.files} == GOLDEN[arch_list]["files"]
    assert len(p.files) == GOLDEN[arch_list]["num_files"]


@pytest.mark.parametrize("arch_list", sorted(GOLDEN))
def test_index_in_file_and_selector_index_match_upstream(arch_list):
    records, _ = _records(arch_list)
    assert records == GOLDEN[arch_list]["records"]
