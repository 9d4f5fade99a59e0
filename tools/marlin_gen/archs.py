"""Arch list parsing and the three generator flags.

Two spellings are accepted, item by item:
  upstream: `8.0`, `8.9+PTX`, `12.0a`, `12.0f` (cut to major + first minor digit: 89, 120)
  Bazel:    `sm_80`, `sm_90a`, `compute_89`, `sm_120f`
Archs below 75 are accepted, as upstream does, and set no flag.
"""

import dataclasses
import re

_UPSTREAM_RE = re.compile(r"^(\d{1,2})\.(\d)\d*(?:a|f)?(?:\+PTX)?$")
_BAZEL_RE = re.compile(r"^(?:sm|compute)_(\d{2,3})(?:a|f)?$")

ACCEPTED_FORMS = (
    "upstream form like 8.0, 8.9+PTX, 12.0a, 12.0f or Bazel form like sm_80, sm_90a, compute_89"
)

FP8_ARCHS = (89, 120)


@dataclasses.dataclass(frozen=True)
class Flags:
    """What the arch list enables (upstream's SUPPORT_SM75, SUPPORT_SM80, SUPPORT_FP8)."""

    sm75: bool
    sm80: bool
    fp8: bool


# Every family enabled: the plan of all possible kernel files (kernel_plan.bzl, `--only` of .cu).
ALL = Flags(sm75=True, sm80=True, fp8=True)


def parse_arch(item: str) -> int:
    """Parses one arch item to an int (`8.9+PTX` -> 89, `sm_90a` -> 90); ValueError if bad."""
    match = _UPSTREAM_RE.match(item)
    if match:
        return int(match.group(1) + match.group(2))
    match = _BAZEL_RE.match(item)
    if match:
        return int(match.group(1))
    raise ValueError(f"invalid arch {item!r}: expected {ACCEPTED_FORMS}")


def parse_arch_list(text: str) -> tuple:
    """Parses a comma-separated arch list to sorted unique ints; ValueError names the bad item."""
    if not text or not text.strip():
        raise ValueError(f"empty arch list: expected a comma-separated list in {ACCEPTED_FORMS}")
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
