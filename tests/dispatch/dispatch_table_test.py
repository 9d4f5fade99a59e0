"""marlin/csrc/dispatch_table.h is a fresh render of the committed measurements.

Fails while the header is stale; regenerate with
    python3 tools/dispatch_table.py benchmarks/results/tune_h200.json \\
        --out marlin/csrc/dispatch_table.h
"""

import json
import os

from tools import dispatch_table

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUNE = "benchmarks/results/tune_h200.json"
HEADER = "marlin/csrc/dispatch_table.h"


def _tune():
    with open(os.path.join(REPO_ROOT, TUNE)) as f:
        return json.load(f)


def test_header_is_fresh():
    with open(os.path.join(REPO_ROOT, HEADER)) as f:
        checked_in = f.read()
    assert checked_in == dispatch_table.render(_tune(), TUNE), (
        f"{HEADER} is stale: python3 tools/dispatch_table.py {TUNE} --out {HEADER}"
    )


def test_measurements_say_where_they_come_from():
    header = _tune()["header"]
    for key in ("card", "sms", "date", "commit", "command", "scheme", "dtype"):
        assert header.get(key), key


def test_best_is_the_fastest_correct_run():
    rows = [
        {"k": 64, "n": 64, "m": 1, "config": "auto", "us": 1.0},
        {"k": 64, "n": 64, "m": 1, "config": [128, 64, 128, 1, False, 2], "us": 3.0},
        {"k": 64, "n": 64, "m": 1, "config": [256, 128, 128, 1, True, 1], "us": 2.0},
        {"k": 64, "n": 64, "m": 1, "config": [128, 128, 64, 1, True, 4], "us": "no kernel"},
        {"k": 64, "n": 64, "m": 16, "config": [128, 128, 64, 1, False, 1], "us": None},
    ]
    best = dispatch_table.best_configs(rows)
    assert best == [
        {
            "k": 64,
            "n": 64,
            "m": 1,
            "us": 2.0,
            "threads": 256,
            "thread_k": 128,
            "thread_n": 128,
            "thread_m_blocks": 1,
            "m_block_size_8": True,
            "splits": 1,
        }
    ]


def test_every_measured_shape_has_an_entry():
    tune = _tune()
    shapes = {(r["k"], r["n"], r["m"]) for r in tune["rows"]}
    entries = {(e["k"], e["n"], e["m"]) for e in dispatch_table.best_configs(tune["rows"])}
    assert entries == shapes
