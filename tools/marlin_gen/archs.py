"""Arch values: the one table, parser and validator behind the generator CLI and the Bazel flag.

Two spellings are accepted, item by item:

- Bazel form: exactly the `--cuda_archs` values of CUDA_ARCHS (`sm_80`, `sm_90a`, `compute_89`).
  The Bazel flag cannot import Python, so the generator writes the same list into
  marlin/private/generated/arch_table.bzl (checked in, compared by
  //tests/generator:gen_checked_in_test):
  the CLI and `--cuda_archs` accept and refuse the same values (`sm_81`, `sm_999`, `compute_90a`
  are refused by both).
- Upstream form, `<major>.<minor>` with optional `a` / `f` and `+PTX` (`8.0`, `8.9+PTX`, `12.0a`),
  for upstream's callers: vLLM's CMake runs `generate_kernels.py <CUDA_ARCHS joined by ",">`.
  The compute capability must be one of UPSTREAM_ARCHS (a real arch; `7.9`, `0.0` are refused).

Upstream's leniency is kept only where its callers rely on it (design.md section 3):
- the `a` / `f` / `+PTX` suffixes are accepted and dropped (upstream cuts every item to major +
  first minor digit; TORCH_CUDA_ARCH_LIST-style lists carry them);
- UPSTREAM_ARCHS holds every arch CMake's CUDA_SUPPORTED_ARCHS may pass, also those no Marlin
  family builds for: 7.0 and 7.2 set no flag (the release Dockerfile's TORCH_CUDA_ARCH_LIST starts
  with 7.0), 10.1, 11.0 and 12.1 act like any other arch >= 8.0.
A list that enables no kernel family at all (only 7.0 / 7.2) is refused by main.py: upstream's
CMake never runs the generator for one (MARLIN_OTHER_ARCHS gates the whole Marlin block).
"""

import dataclasses
import re

# The --cuda_archs values in canonical order: SASS first, then PTX, each ascending.
CUDA_ARCHS = (
    "sm_75",
    "sm_80",
    "sm_86",
    "sm_87",
    "sm_89",
    "sm_90",
    "sm_90a",
    "sm_100",
    "sm_120",
    "compute_75",
    "compute_80",
    "compute_86",
    "compute_87",
    "compute_89",
    "compute_90",
    "compute_100",
    "compute_120",
)

# Compute capabilities (10 * major + minor) accepted in upstream form: vLLM's
# CUDA_SUPPORTED_ARCHS for CUDA < 12.8 (7.0 .. 9.0), 12.8 (+ 10.0, 10.1, 12.0) and 13.0 (+ 11.0),
# and 12.1 of vLLM main.
UPSTREAM_ARCHS = (70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 110, 120, 121)

_UPSTREAM_RE = re.compile(r"^(\d{1,2})\.(\d)(?:a|f)?(?:\+PTX)?$")
_BAZEL_RE = re.compile(r"^(?:sm|compute)_(\d{2,3})a?$")


def _upstream_spelling(cc: int) -> str:
    return f"{cc // 10}.{cc % 10}"


ACCEPTED_FORMS = (
    f"a --cuda_archs value ({', '.join(CUDA_ARCHS)}) or upstream form <major>.<minor>[a|f][+PTX] "
    f"like 8.0, 8.9+PTX, 12.0a of {', '.join(map(_upstream_spelling, UPSTREAM_ARCHS))}"
)

FP8_ARCHS = (89, 120)


@dataclasses.dataclass(frozen=True)
class Flags:
    """What the arch list enables (upstream's SUPPORT_SM75, SUPPORT_SM80, SUPPORT_FP8)."""

    sm75: bool
    sm80: bool
    fp8: bool

    @property
    def any(self) -> bool:
        """True when some kernel family is built (sm75, or sm80 with or without fp8)."""
        return self.sm75 or self.sm80


# Every family enabled: the plan of all possible kernel files (kernel_plan.bzl, `--only` of .cu).
ALL = Flags(sm75=True, sm80=True, fp8=True)


def parse_arch(item: str) -> int:
    """Parses one arch item to an int (`8.9+PTX` -> 89, `sm_90a` -> 90); ValueError if bad."""
    if item in CUDA_ARCHS:
        return int(_BAZEL_RE.match(item).group(1))
    match = _UPSTREAM_RE.match(item)
    if match:
        cc = int(match.group(1) + match.group(2))
        if cc in UPSTREAM_ARCHS:
            return cc
        raise ValueError(
            f"unknown arch {item!r} ({_upstream_spelling(cc)} is not a CUDA arch upstream's "
            f"callers pass): expected {ACCEPTED_FORMS}"
        )
    raise ValueError(f"unknown arch {item!r}: expected {ACCEPTED_FORMS}")


def parse_arch_list(text: str) -> tuple:
    """Parses a comma-separated arch list to sorted unique ints; ValueError names the bad item."""
    if not text or not text.strip():
        raise ValueError(f"empty arch list: expected a comma-separated list of {ACCEPTED_FORMS}")
    archs = set()
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ValueError(f"empty item in arch list {text!r}: expected {ACCEPTED_FORMS}")
        try:
            archs.add(parse_arch(item))
        except ValueError as e:
            raise ValueError(f"{e} (in arch list {text!r})") from None
    return tuple(sorted(archs))


def compute_flags(archs) -> Flags:
    """sm75: any arch is exactly 75; sm80: any arch >= 80; fp8: any arch is exactly 89 or 120."""
    return Flags(
        sm75=75 in archs,
        sm80=any(a >= 80 for a in archs),
        fp8=any(a in FP8_ARCHS for a in archs),
    )
