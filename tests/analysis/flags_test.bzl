"""Flag validation: bad archs / schemes fail naming the value; parsers and family_gencode."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts", "unittest")
load("//marlin/private:arch_rules.bzl", "VALID_KERNEL_FAMILIES", "family_gencode")
load("//marlin/private:flags.bzl", "VALID_CUDA_ARCHS", "parse_cuda_archs", "parse_schemes")
load("//marlin/private/generated:arch_table.bzl", "GENERATOR_FAMILIES", "MARLIN_KERNEL_FAMILIES")
load(":common.bzl", "flags")

# expect_failure: the message names the bad value and lists the valid ones.

def _expect_failure_impl(ctx):
    env = analysistest.begin(ctx)
    for fragment in ctx.attr.expected_fragments:
        asserts.expect_failure(env, fragment)
    return analysistest.end(env)

def _expect_failure(*fragments):
    """Attributes for a test expecting a failure whose message contains every fragment."""
    return {"expected_fragments": attr.string_list(default = list(fragments))}

_bad_arch_test = analysistest.make(
    _expect_failure_impl,
    attrs = _expect_failure("unknown arch 'sm_81'", "valid values: " + ", ".join(VALID_CUDA_ARCHS)),
    expect_failure = True,
    config_settings = flags(archs = ["sm_80", "sm_81"]),
)

_malformed_arch_test = analysistest.make(
    _expect_failure_impl,
    attrs = _expect_failure("unknown arch '8.0'", "sm_75, sm_80"),
    expect_failure = True,
    config_settings = flags(archs = ["8.0"]),
)

_empty_archs_test = analysistest.make(
    _expect_failure_impl,
    attrs = _expect_failure("--cuda_archs is empty", "sm_75, sm_80"),
    expect_failure = True,
    config_settings = flags(archs = []),
)

_unknown_scheme_test = analysistest.make(
    _expect_failure_impl,
    attrs = _expect_failure("unknown scheme 'gptq_int3'", "valid values: all, awq_int4, "),
    expect_failure = True,
    config_settings = flags(schemes = ["gptq_int4", "gptq_int3"]),
)

_all_with_names_test = analysistest.make(
    _expect_failure_impl,
    attrs = _expect_failure("'all' cannot be combined with scheme names ('gptq_int4')", "valid values: all, awq_int4, "),
    expect_failure = True,
    config_settings = flags(schemes = ["all", "gptq_int4"]),
)

# Unit tests of the pure functions.

def _parse_cuda_archs_test_impl(ctx):
    env = unittest.begin(ctx)
    parsed = parse_cuda_archs(["compute_89", "sm_90a", "sm_80", "sm_80", " sm_75 "])
    asserts.equals(env, None, parsed.error)
    asserts.equals(env, ["sm_75", "sm_80", "sm_90a", "compute_89"], parsed.archs)
    for bad in ["sm_81", "sm80", "80", "8.0", "compute_90a", "SM_80", "sm_90a+PTX"]:
        parsed = parse_cuda_archs(["sm_80", bad])
        asserts.true(env, parsed.error != None and ("'{}'".format(bad.strip())) in parsed.error, "{}: {}".format(bad, parsed.error))
    asserts.true(env, "empty" in parse_cuda_archs([]).error)
    asserts.true(env, "empty" in parse_cuda_archs([""]).error)
    return unittest.end(env)

_parse_cuda_archs_test = unittest.make(_parse_cuda_archs_test_impl)

def _parse_schemes_test_impl(ctx):
    env = unittest.begin(ctx)
    known = ["a", "b", "c"]
    asserts.equals(env, ["a", "b", "c"], parse_schemes(["all"], known).schemes)
    asserts.equals(env, ["a", "c"], parse_schemes(["c", "a", "c"], known).schemes)
    asserts.equals(env, ["a", "b", "c"], parse_schemes(["all", "all"], known).schemes)
    for mixed in [["b", "all"], ["all", "a"], ["all", "a", "b", "c"]]:
        parsed = parse_schemes(mixed, known)
        asserts.equals(env, [], parsed.schemes)
        asserts.true(env, parsed.error != None and "cannot be combined" in parsed.error, "{}: {}".format(mixed, parsed.error))
    error = parse_schemes(["a", "d"], known).error
    asserts.true(env, "'d'" in error and "all, a, b, c" in error, error)
    asserts.true(env, "empty" in parse_schemes([], known).error)
    return unittest.end(env)

_parse_schemes_test = unittest.make(_parse_schemes_test_impl)

_SASS = "arch=compute_{0},code=sm_{0}"
_PTX = "arch=compute_{0},code=compute_{0}"

def _family_gencode_test_impl(ctx):
    env = unittest.begin(ctx)
    cases = [
        # (family, requested, expected)
        ("sm80", ["sm_80"], [_SASS.format(80)]),
        ("sm80", ["sm_86", "sm_87", "sm_89"], [_SASS.format(80)]),
        ("sm80", ["sm_90", "sm_90a", "sm_100", "sm_120"], [_SASS.format(90), _SASS.format("90a"), _SASS.format(100), _SASS.format(120)]),
        ("sm80", ["compute_86", "compute_87", "compute_89", "compute_80"], [_PTX.format(80)]),
        ("sm80", ["compute_90", "compute_100", "compute_120"], [_PTX.format(90), _PTX.format(100), _PTX.format(120)]),
        ("sm80", ["sm_75", "compute_75"], []),
        ("sm80", ["compute_89", "sm_89"], [_SASS.format(80), _PTX.format(80)]),
        ("sm75", ["sm_75"], [_SASS.format(75)]),
        ("sm75", ["compute_75"], [_PTX.format(75)]),
        ("sm75", ["sm_80", "sm_89", "sm_90", "compute_80"], []),
        ("sm89", ["sm_89", "sm_120"], [_SASS.format(89), _SASS.format(120)]),
        ("sm89", ["compute_89", "compute_120"], [_PTX.format(89), _PTX.format(120)]),
        ("sm89", ["sm_75", "sm_80", "sm_86", "sm_87", "sm_90", "sm_90a", "sm_100", "compute_80", "compute_90", "compute_100"], []),
        ("", ["sm_86", "compute_90", "sm_75"], [_SASS.format(75), _SASS.format(86), _PTX.format(90)]),
        ("sm80", [], []),
    ]
    for family, requested, expected in cases:
        asserts.equals(env, expected, family_gencode(family, requested), "family_gencode({}, {})".format(repr(family), repr(requested)))
    return unittest.end(env)

_family_gencode_test = unittest.make(_family_gencode_test_impl)

# Parity of the two arch rules: what nvcc compiles (family_gencode) and what the generator's
# manifest and selector say is built (GENERATOR_FAMILIES, written from tools/marlin_gen/archs.py
# compute_flags and the planner into arch_table.bzl).

def _compiled_families(archs):
    return [f for f in MARLIN_KERNEL_FAMILIES if family_gencode(f, archs)]

def _family_parity_test_impl(ctx):
    env = unittest.begin(ctx)
    asserts.equals(env, MARLIN_KERNEL_FAMILIES, [f for f in VALID_KERNEL_FAMILIES if f])
    asserts.equals(env, sorted(VALID_CUDA_ARCHS), sorted(GENERATOR_FAMILIES.keys()))
    for arch in VALID_CUDA_ARCHS:
        asserts.equals(env, GENERATOR_FAMILIES[arch], _compiled_families([arch]), "families of {}".format(arch))

    # Both rules are unions over the requested archs: every pair compiles the families of its two
    # members (the Python side checks the same in gen_archs_test).
    for a in VALID_CUDA_ARCHS:
        for b in VALID_CUDA_ARCHS:
            expected = [f for f in MARLIN_KERNEL_FAMILIES if f in GENERATOR_FAMILIES[a] + GENERATOR_FAMILIES[b]]
            asserts.equals(env, expected, _compiled_families([a, b]), "families of {}, {}".format(a, b))
    asserts.equals(env, MARLIN_KERNEL_FAMILIES, _compiled_families(VALID_CUDA_ARCHS))
    return unittest.end(env)

_family_parity_test = unittest.make(_family_parity_test_impl)

def flags_test_suite(name):
    """Declares the flag tests and a test_suite `name`.

    Args:
      name: name of the test_suite.
    """
    _bad_arch_test(name = name + "_bad_arch_test", target_under_test = ":tiny")
    _malformed_arch_test(name = name + "_malformed_arch_test", target_under_test = ":tiny")
    _empty_archs_test(name = name + "_empty_archs_test", target_under_test = "//marlin:config")
    _unknown_scheme_test(name = name + "_unknown_scheme_test", target_under_test = "//marlin:kernels_manifest")
    _all_with_names_test(name = name + "_all_with_names_test", target_under_test = "//marlin:config")
    _parse_cuda_archs_test(name = name + "_parse_cuda_archs_test")
    _parse_schemes_test(name = name + "_parse_schemes_test")
    _family_gencode_test(name = name + "_family_gencode_test")
    _family_parity_test(name = name + "_family_parity_test")
    native.test_suite(
        name = name,
        tests = [
            name + "_bad_arch_test",
            name + "_malformed_arch_test",
            name + "_empty_archs_test",
            name + "_unknown_scheme_test",
            name + "_all_with_names_test",
            name + "_parse_cuda_archs_test",
            name + "_parse_schemes_test",
            name + "_family_gencode_test",
            name + "_family_parity_test",
        ],
    )
