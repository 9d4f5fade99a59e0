"""Reads what a Bazel 4.2.3 command did from its output and its JSON execution log.

    python3 tools/remote/build_stats.py --bazel_log=build.log [--exec_log=exec.json] \
        [--expect=remote|cache|noop] [--require_mnemonics=MarlinCodegen,CudaCompile,...]

Prints one summary line (processes by runner, tests passed and failed, wall time) and, with
--exec_log, the runners each mnemonic ran on. With --expect it exits 1 when the command did not
do what was expected:

  remote  every process that is not internal ran remotely ("N remote"); none ran here
  cache   every process that is not internal was a remote cache hit; none ran here or remotely
  noop    no process but internal ones

and, with --require_mnemonics, when one of those mnemonics did not run remotely (or was not a
cache hit, for `cache`). tools/remote/check.sh calls it after each step.
"""

import collections
import dataclasses
import json
import re
import sys

from absl import app
from absl import flags

# Inputs.
_BAZEL_LOG = flags.DEFINE_string("bazel_log", None, "Bazel's stdout+stderr of one command.")
_EXEC_LOG = flags.DEFINE_string("exec_log", None, "--execution_log_json_file of that command.")

# Expectations.
_EXPECT = flags.DEFINE_enum("expect", None, ["remote", "cache", "noop"], "What should have run.")
_REQUIRE_MNEMONICS = flags.DEFINE_list(
    "require_mnemonics", [], "Mnemonics that must appear, run as --expect says."
)
_MIN_TESTS = flags.DEFINE_integer(
    "min_tests", 0, "Fewer passed tests than this fail the check.", lower_bound=0
)

_PROCESSES = re.compile(r"^INFO: (\d+) process(?:es)?(?:: (.*?))?\.$", re.M)
_ELAPSED = re.compile(r"^INFO: Elapsed time: ([0-9.]+)s", re.M)
_PASSED = re.compile(r"^//\S+\s+(?:\(cached\) )?PASSED in ", re.M)
_FAILED = re.compile(r"^//\S+\s+(?:FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)(?: in |$)", re.M)
_CACHED = re.compile(r"^//\S+\s+\(cached\) PASSED in ", re.M)

# The runner names Bazel counts processes by that mean "ran on this machine".
_LOCAL_RUNNERS = ("local", "linux-sandbox", "processwrapper-sandbox", "sandbox", "worker")


@dataclasses.dataclass(frozen=True)
class Summary:
    """What one Bazel command did.

    Attributes:
      processes: total processes of the closing "INFO: N processes: ..." line.
      by_runner: that line's counts by runner name ("internal", "remote", "remote cache hit",
        "linux-sandbox", ...).
      elapsed_s: Bazel's "Elapsed time".
      passed, failed, cached: test counts (cached: "(cached) PASSED").
    """

    processes: int
    by_runner: dict[str, int]
    elapsed_s: float | None
    passed: int
    failed: int
    cached: int


def parse_bazel_log(text: str) -> Summary:
    """Parses Bazel 4.2.3's console output of one build or test command.

    Raises:
      ValueError: the output has no "INFO: N processes" line (the command did not get to
        execution, e.g. an unreachable server or an analysis error).
    """
    matches = list(_PROCESSES.finditer(text))
    if not matches:
        raise ValueError("no 'INFO: N processes' line: the command did not reach execution")
    last = matches[-1]
    by_runner = {}
    for part in (last.group(2) or "").split(","):
        part = part.strip()
        if part:
            count, _, runner = part.partition(" ")
            by_runner[runner] = by_runner.get(runner, 0) + int(count)
    elapsed = _ELAPSED.findall(text)
    return Summary(
        processes=int(last.group(1)),
        by_runner=by_runner,
        elapsed_s=float(elapsed[-1]) if elapsed else None,
        passed=len(_PASSED.findall(text)),
        failed=len(_FAILED.findall(text)),
        cached=len(_CACHED.findall(text)),
    )


def parse_exec_log(text: str) -> dict[str, collections.Counter]:
    """Runner counts by mnemonic from an --execution_log_json_file (one JSON object after another).

    Bazel 4.2.3 writes SpawnExec messages as concatenated pretty-printed JSON objects, not one
    per line; they are decoded one after another.
    """
    decoder = json.JSONDecoder()
    result = collections.defaultdict(collections.Counter)
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return dict(result)
        spawn, pos = decoder.raw_decode(text, pos)
        result[spawn.get("mnemonic", "?")][spawn.get("runner", "?")] += 1


def check(
    summary: Summary,
    expect: str,
    mnemonics: dict[str, collections.Counter] | None,
    required: list[str],
    min_tests: int,
) -> list[str]:
    """The ways `summary` misses `expect`; empty when it meets it."""
    problems = []
    ran_here = {r: n for r, n in summary.by_runner.items() if r in _LOCAL_RUNNERS}
    if ran_here:
        problems.append(f"processes ran on this machine: {ran_here}")
    if summary.failed:
        problems.append(f"{summary.failed} test(s) failed")
    if summary.passed < min_tests:
        problems.append(f"{summary.passed} test(s) passed, expected at least {min_tests}")
    wanted = {"remote": "remote", "cache": "remote cache hit", "noop": None}[expect]
    others = {r: n for r, n in summary.by_runner.items() if r not in ("internal", wanted)}
    if others and not ran_here:
        expected = f"internal and {wanted!r}" if wanted else "internal"
        problems.append(f"expected only {expected} processes, got {others}")
    if wanted and not summary.by_runner.get(wanted):
        problems.append(f"no {wanted!r} process at all")
    for mnemonic in required:
        if mnemonics is None:
            problems.append("--require_mnemonics needs --exec_log")
            break
        runners = mnemonics.get(mnemonic)
        if not runners:
            problems.append(f"no {mnemonic} action ran")
        elif set(runners) != {wanted}:
            problems.append(f"{mnemonic} ran on {dict(runners)}, expected only {wanted!r}")
    return problems


def format_summary(summary: Summary) -> str:
    runners = ", ".join(f"{n} {r}" for r, n in sorted(summary.by_runner.items()))
    elapsed = "?" if summary.elapsed_s is None else f"{summary.elapsed_s:.2f} s"
    return (
        f"{summary.processes} processes ({runners or 'none'}); tests: {summary.passed} passed "
        f"({summary.cached} cached), {summary.failed} failed; Bazel elapsed {elapsed}"
    )


def main(argv):
    del argv  # Unused.
    with open(_BAZEL_LOG.value, errors="replace") as f:
        try:
            summary = parse_bazel_log(f.read())
        except ValueError as error:
            print(f"build_stats: {error}", file=sys.stderr)
            return 1
    mnemonics = None
    if _EXEC_LOG.value:
        with open(_EXEC_LOG.value) as f:
            mnemonics = parse_exec_log(f.read())
    print(format_summary(summary))
    if mnemonics:
        for mnemonic in sorted(mnemonics):
            runners = ", ".join(f"{n} {r}" for r, n in sorted(mnemonics[mnemonic].items()))
            print(f"  {mnemonic}: {runners}")
    if _EXPECT.value is None:
        return 0
    problems = check(summary, _EXPECT.value, mnemonics, _REQUIRE_MNEMONICS.value, _MIN_TESTS.value)
    for problem in problems:
        print(f"build_stats: MISS ({_EXPECT.value}): {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    flags.mark_flags_as_required(["bazel_log"])
    app.run(main)
