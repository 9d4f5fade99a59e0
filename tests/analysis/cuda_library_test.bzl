"""cuda_library: the nvcc command line (static flags, includes, one action per .cu)."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")
load("@local_cuda//:defs.bzl", "CUDA_VERSION", "NVCC")
load(":common.bzl", "assert_argv_contains", "assert_argv_not_contains", "find_action", "find_actions", "flags", "gencodes")

def _static_flags_test_impl(ctx):
    env = analysistest.begin(ctx)
    action = find_action(env, "CudaCompile")
    if action:
        asserts.equals(env, NVCC, action.argv[0], "nvcc runs by absolute path")
        assert_argv_contains(env, action, [
            "-std=c++17",
            "-O3",
            "-Xcompiler",
            "-fPIC",
            "-ccbin",
            "-objtemp",
            "-c",
            "tests/analysis/tiny.cu",
        ])
        if tuple(CUDA_VERSION) >= (12, 8):
            assert_argv_contains(env, action, ["-static-global-template-stub=false"])
        asserts.equals(env, ["arch=compute_80,code=sm_80"], gencodes(action))
        asserts.true(env, action.argv[-1].endswith("tests/analysis/_objs/tiny/tiny.pic.o"), str(action.argv[-1]))
        inputs = [f.short_path for f in action.inputs.to_list()]
        asserts.true(env, "tests/analysis/tiny.h" in inputs, "hdrs are inputs")
        asserts.true(env, "tests/analysis/tiny_main.cc" not in inputs, "only declared inputs")
        asserts.equals(env, ["tests/analysis/_objs/tiny/tiny.pic.o"], [f.short_path for f in action.outputs.to_list()])
    return analysistest.end(env)

_static_flags_test = analysistest.make(_static_flags_test_impl, config_settings = flags(archs = ["sm_80"]))

def _generic_archs_test_impl(ctx):
    env = analysistest.begin(ctx)
    action = find_action(env, "CudaCompile")
    if action:
        # No family: every requested arch as is, SASS first, then PTX.
        asserts.equals(env, [
            "arch=compute_86,code=sm_86",
            "arch=compute_90a,code=sm_90a",
            "arch=compute_89,code=compute_89",
        ], gencodes(action))
    return analysistest.end(env)

_generic_archs_test = analysistest.make(
    _generic_archs_test_impl,
    config_settings = flags(archs = ["compute_89", "sm_90a", "sm_86", "sm_86"]),
)

def _per_source_test_impl(ctx):
    env = analysistest.begin(ctx)
    actions = find_actions(env, "CudaCompile")
    asserts.equals(env, 2, len(actions), "one CudaCompile action per .cu")
    messages = sorted([a.argv[a.argv.index("-c") + 1] for a in actions])
    asserts.equals(env, ["tests/analysis/tiny.cu", "tests/analysis/tiny2.cu"], messages)
    for a in actions:
        assert_argv_contains(env, a, ["-DTINY_EXTRA=1", "-DTINY_DEP_DEFINE", "--fake-copt"])
        assert_argv_not_contains(env, a, ["-isystem"])
    return analysistest.end(env)

_per_source_test = analysistest.make(_per_source_test_impl)

def _sm75_family_no_arch_test_impl(ctx):
    env = analysistest.begin(ctx)
    asserts.equals(env, [], find_actions(env, "CudaCompile"), "sm75 family with --cuda_archs=sm_80: no compile")
    return analysistest.end(env)

_sm75_family_no_arch_test = analysistest.make(_sm75_family_no_arch_test_impl, config_settings = flags(archs = ["sm_80"]))

def cuda_library_test_suite(name):
    """Declares the cuda_library analysis tests and a test_suite `name`.

    Args:
      name: name of the test_suite.
    """
    _static_flags_test(name = name + "_static_flags_test", target_under_test = ":tiny")
    _generic_archs_test(name = name + "_generic_archs_test", target_under_test = ":tiny")
    _per_source_test(name = name + "_per_source_test", target_under_test = ":tiny_two_sources")
    _sm75_family_no_arch_test(name = name + "_sm75_family_no_arch_test", target_under_test = ":tiny_sm75")
    native.test_suite(
        name = name,
        tests = [
            name + "_static_flags_test",
            name + "_generic_archs_test",
            name + "_per_source_test",
            name + "_sm75_family_no_arch_test",
        ],
    )
