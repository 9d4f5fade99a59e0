"""tools/remote/build_stats.py: Bazel 4.2.3 output and execution-log parsing, and the checks."""

import json

import pytest
import remote_paths  # noqa: F401  (puts tools/remote on sys.path)
from build_stats import check
from build_stats import format_summary
from build_stats import parse_bazel_log
from build_stats import parse_exec_log

_REMOTE_LOG = """\
INFO: Analyzed 72 targets (0 packages loaded, 0 targets configured).
INFO: 3 processes: 3 internal.
//tests/cc:selector_test                                        PASSED in 1.0s
//tests/python:test_quant                                       PASSED in 5.2s
INFO: Elapsed time: 201.53s, Critical Path: 150.12s
INFO: 180 processes: 74 internal, 106 remote.
INFO: Build completed successfully, 180 total actions
"""

_CACHE_LOG = """\
INFO: Elapsed time: 3.10s, Critical Path: 0.90s
INFO: 107 processes: 1 internal, 106 remote cache hit.
//tests/cc:selector_test                                        (cached) PASSED in 1.0s
//tests/python:test_quant                                       (cached) PASSED in 5.2s
"""


def test_parses_the_last_process_line_elapsed_time_and_tests():
    summary = parse_bazel_log(_REMOTE_LOG)
    assert summary.processes == 180
    assert summary.by_runner == {"internal": 74, "remote": 106}
    assert summary.elapsed_s == pytest.approx(201.53)
    assert (summary.passed, summary.failed, summary.cached) == (2, 0, 0)
    assert "106 remote" in format_summary(summary)


def test_parses_cache_hits_and_cached_tests():
    summary = parse_bazel_log(_CACHE_LOG)
    assert summary.by_runner == {"internal": 1, "remote cache hit": 106}
    assert (summary.passed, summary.cached) == (2, 2)


def test_single_process_line_and_failures():
    text = (
        "INFO: 1 process: 1 internal.\n"
        "//tests/x:a_test                                  FAILED TO BUILD\n"
        "//tests/x:b_test                                  FAILED in 2.0s\n"
    )
    summary = parse_bazel_log(text)
    assert (summary.processes, summary.by_runner, summary.failed) == (1, {"internal": 1}, 2)


def test_no_process_line_is_an_error():
    with pytest.raises(ValueError, match="did not reach execution"):
        parse_bazel_log("ERROR: Failed to query remote execution capabilities: UNAVAILABLE\n")


def _exec_log(*spawns):
    # Bazel 4.2.3 writes pretty-printed objects one after another, not JSON lines.
    return "".join(json.dumps(s, indent=2) + "\n" for s in spawns)


def test_exec_log_counts_runners_by_mnemonic():
    text = _exec_log(
        {"mnemonic": "CudaCompile", "runner": "remote"},
        {"mnemonic": "CudaCompile", "runner": "remote"},
        {"mnemonic": "CppLink", "runner": "remote cache hit"},
    )
    counts = parse_exec_log(text)
    assert dict(counts["CudaCompile"]) == {"remote": 2}
    assert dict(counts["CppLink"]) == {"remote cache hit": 1}


def test_remote_expectation_met():
    summary = parse_bazel_log(_REMOTE_LOG)
    mnemonics = parse_exec_log(_exec_log({"mnemonic": "CudaCompile", "runner": "remote"}))
    assert check(summary, "remote", mnemonics, ["CudaCompile"], min_tests=2) == []


def test_remote_expectation_misses_local_runs_missing_kinds_and_few_tests():
    summary = parse_bazel_log("INFO: 5 processes: 1 internal, 2 remote, 2 linux-sandbox.\n")
    mnemonics = parse_exec_log(
        _exec_log(
            {"mnemonic": "CudaCompile", "runner": "linux-sandbox"},
            {"mnemonic": "CppLink", "runner": "remote"},
        )
    )
    problems = check(summary, "remote", mnemonics, ["CudaCompile", "TestRunner"], min_tests=1)
    text = "\n".join(problems)
    assert "ran on this machine: {'linux-sandbox': 2}" in text
    assert "CudaCompile ran on {'linux-sandbox': 1}" in text
    assert "no TestRunner action ran" in text
    assert "0 test(s) passed, expected at least 1" in text


def test_cache_expectation_rejects_remote_execution():
    summary = parse_bazel_log("INFO: 3 processes: 1 internal, 1 remote cache hit, 1 remote.\n")
    assert check(summary, "cache", None, [], 0) == [
        "expected only internal and 'remote cache hit' processes, got {'remote': 1}"
    ]


def test_noop_expectation():
    assert check(parse_bazel_log("INFO: 0 processes.\n"), "noop", None, [], 0) == []
    problems = check(parse_bazel_log("INFO: 2 processes: 2 remote.\n"), "noop", None, [], 0)
    assert problems == ["expected only internal processes, got {'remote': 2}"]
