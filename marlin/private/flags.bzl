"""Allowed values of the rules_marlin flags, and their parsers (pure functions).

`//marlin:cuda_archs` takes `sm_XX` (SASS for that arch) and `compute_XX` (PTX, JIT-compiled by
the driver on newer GPUs). The valid values are `VALID_CUDA_ARCHS` of
`marlin/private/generated/arch_table.bzl`, which the generator writes from
`tools/marlin_gen/archs.py` (the generator CLI accepts exactly these in Bazel form), in the order
used everywhere (command lines, manifest): SASS first, then PTX, each ascending.

`//marlin:schemes` takes scheme names of `marlin/private/generated/kernel_plan.bzl`'s
`MARLIN_SCHEMES`, or `all` (the default) alone: `all,gptq_int4` is an error, not "all".

`//marlin:device_actions` (`--cuda_device_actions`) is `per_arch` (the default: for each `.cu`
file a `CudaHostFrontend` action, one `CudaDeviceCompile` action per target arch, then one
`CudaHostCompile` action for the fat binary and the host code) or `per_file` (one `CudaCompile`
action per file). Both run nvcc's own stages of the file's single nvcc command and give the same
object.

`--cuda_archs` and `--marlin_schemes` are comma-separated lists in one flag value. Given twice,
the last value wins and the earlier one is dropped (Bazel's rule for a build setting, which
cannot repeat on Bazel 4.2.3): `--cuda_archs=sm_80 --cuda_archs=sm_89` builds sm_89 only; write
`--cuda_archs=sm_80,sm_89`.
This is also how a command line overrides `.bazelrc`'s `test --cuda_archs=sm_80`.
"""

load("//marlin/private/generated:arch_table.bzl", _VALID_CUDA_ARCHS = "VALID_CUDA_ARCHS")

# The valid values, written by the generator from tools/marlin_gen/archs.py (the same table
# validates the generator CLI's arch lists).
VALID_CUDA_ARCHS = _VALID_CUDA_ARCHS

SCHEMES_ALL = "all"

# The values of //marlin:device_actions (cuda_compile.bzl implements them); per_arch is the default.
DEVICE_ACTIONS = ["per_arch", "per_file"]

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
        names = [v for v in requested if v and v != SCHEMES_ALL]
        if names:
            return struct(
                schemes = [],
                error = "--marlin_schemes: '{}' cannot be combined with scheme names ({}); give either '{}' or only names; valid values: {}".format(
                    SCHEMES_ALL,
                    ", ".join(["'{}'".format(n) for n in names]),
                    SCHEMES_ALL,
                    valid,
                ),
            )
        return struct(schemes = list(known_schemes), error = None)
    return struct(schemes = [s for s in known_schemes if s in requested], error = None)
