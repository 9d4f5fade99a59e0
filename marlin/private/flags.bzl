"""Allowed values of the rules_marlin flags, and their parsers (pure functions).

`//marlin:cuda_archs` takes `sm_XX` (SASS for that arch) and `compute_XX` (PTX, JIT-compiled by
the driver on newer GPUs). The valid values are the members of `CUDA_ARCHS`, in the order used
everywhere (command lines, manifest): SASS first, then PTX, each ascending.

`//marlin:schemes` takes scheme names of `marlin/private/kernel_plan.bzl`'s `MARLIN_SCHEMES`, or
`all` (the default).
"""

CUDA_ARCHS = struct(
    SM_75 = "sm_75",
    SM_80 = "sm_80",
    SM_86 = "sm_86",
    SM_87 = "sm_87",
    SM_89 = "sm_89",
    SM_90 = "sm_90",
    SM_90A = "sm_90a",
    SM_100 = "sm_100",
    SM_120 = "sm_120",
    COMPUTE_75 = "compute_75",
    COMPUTE_80 = "compute_80",
    COMPUTE_86 = "compute_86",
    COMPUTE_87 = "compute_87",
    COMPUTE_89 = "compute_89",
    COMPUTE_90 = "compute_90",
    COMPUTE_100 = "compute_100",
    COMPUTE_120 = "compute_120",
)

# Canonical order (the struct's field order is alphabetical, so list it explicitly).
VALID_CUDA_ARCHS = [
    CUDA_ARCHS.SM_75,
    CUDA_ARCHS.SM_80,
    CUDA_ARCHS.SM_86,
    CUDA_ARCHS.SM_87,
    CUDA_ARCHS.SM_89,
    CUDA_ARCHS.SM_90,
    CUDA_ARCHS.SM_90A,
    CUDA_ARCHS.SM_100,
    CUDA_ARCHS.SM_120,
    CUDA_ARCHS.COMPUTE_75,
    CUDA_ARCHS.COMPUTE_80,
    CUDA_ARCHS.COMPUTE_86,
    CUDA_ARCHS.COMPUTE_87,
    CUDA_ARCHS.COMPUTE_89,
    CUDA_ARCHS.COMPUTE_90,
    CUDA_ARCHS.COMPUTE_100,
    CUDA_ARCHS.COMPUTE_120,
]

SCHEMES_ALL = "all"

def parse_cuda_archs(values):
    """Validates and canonicalises a `--cuda_archs` value.

    Args:
      values: the flag's list of strings, as given.

    Returns:
      A struct with `archs` (deduplicated, in `VALID_CUDA_ARCHS` order) and `error` (None, or a
      message naming the bad value and listing the valid ones).
    """
    valid = ", ".join(VALID_CUDA_ARCHS)
    requested = [v.strip() for v in values]
    if not [v for v in requested if v]:
        return struct(archs = [], error = "--cuda_archs is empty; valid values: " + valid)
    for v in requested:
        if v not in VALID_CUDA_ARCHS:
            return struct(
                archs = [],
                error = "--cuda_archs: unknown arch '{}'; valid values: {}".format(v, valid),
            )
    return struct(archs = [a for a in VALID_CUDA_ARCHS if a in requested], error = None)

def parse_schemes(values, known_schemes):
    """Validates a `--marlin_schemes` value against the known scheme names.

    Args:
      values: the flag's list of strings, as given.
      known_schemes: every valid scheme name, in table order.

    Returns:
      A struct with `schemes` (the selected names in table order; all of them for `all`) and
      `error` (None, or a message naming the bad value and listing the valid ones).
    """
    valid = ", ".join([SCHEMES_ALL] + list(known_schemes))
    requested = [v.strip() for v in values]
    if not [v for v in requested if v]:
        return struct(schemes = [], error = "--marlin_schemes is empty; valid values: " + valid)
    for v in requested:
        if v != SCHEMES_ALL and v not in known_schemes:
            return struct(
                schemes = [],
                error = "--marlin_schemes: unknown scheme '{}'; valid values: {}".format(v, valid),
            )
    if SCHEMES_ALL in requested:
        return struct(schemes = list(known_schemes), error = None)
    return struct(schemes = [s for s in known_schemes if s in requested], error = None)
