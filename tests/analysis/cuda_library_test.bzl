"""cuda_library: the nvcc command line (static flags, includes), per-file and per-arch actions."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")
load("@local_cuda//:defs.bzl", "CUDA_VERSION", "NVCC")
load(":common.bzl", "assert_argv_contains", "assert_argv_not_contains", "find_action", "find_actions", "flags", "gencodes", "option_value")

_TINY_OBJECT = "tests/analysis/_objs/tiny/tiny.pic.o"

def _static_flags_test_impl(ctx):
    env = analysistest.begin(ctx)
    action = find_action(env, "CudaCompile")
    asserts.equals(env, [], find_actions(env, "CudaHostFrontend") + find_actions(env, "CudaDeviceCompile") + find_actions(env, "CudaHostCompile"), "per_file: one action")
    if action:
        asserts.true(env, action.argv[0].endswith("marlin/private/tools/nvcc_stages"), "runs nvcc's stages: " + action.argv[0])
        asserts.equals(env, NVCC, option_value(action, "--nvcc"), "nvcc runs by absolute path")
        asserts.equals(env, "whole", option_value(action, "--mode"))
        asserts.equals(env, "tests/analysis/tiny.cu", option_value(action, "--src"))
        asserts.true(env, option_value(action, "--output").endswith(_TINY_OBJECT), str(action.argv))
        assert_argv_contains(env, action, [
            "-std=c++17",
            "-O3",
            "-Xcompiler",
            "-fPIC",
            "-ccbin",
        ])

        # The tool adds -objtemp -c SRC -o OBJECT to its nvcc --dryrun.
        assert_argv_not_contains(env, action, ["-c", "-o", "-objtemp"])
        if tuple(CUDA_VERSION) >= (12, 8):
            assert_argv_contains(env, action, ["-static-global-template-stub=false"])
        asserts.equals(env, ["arch=compute_80,code=sm_80"], gencodes(action))
        inputs = [f.short_path for f in action.inputs.to_list()]
        asserts.true(env, "tests/analysis/tiny.h" in inputs, "hdrs are inputs")
        asserts.true(env, "tests/analysis/tiny_main.cc" not in inputs, "only declared inputs")
        asserts.equals(env, ["tests/analysis/_objs/tiny/tiny.pic.o"], [f.short_path for f in action.outputs.to_list()])
    return analysistest.end(env)

_static_flags_test = analysistest.make(
    _static_flags_test_impl,
    config_settings = flags(archs = ["sm_80"], device_actions = "per_file"),
)

_MULTI_ARCHS = ["compute_89", "sm_90a", "sm_86", "sm_86"]

def _per_arch_test_impl(ctx):
    env = analysistest.begin(ctx)
    asserts.equals(env, [], find_actions(env, "CudaCompile"), "per_arch: no per-file action")
    full = ["arch=compute_86,code=sm_86", "arch=compute_90a,code=sm_90a", "arch=compute_89,code=compute_89"]
    front = find_action(env, "CudaHostFrontend")
    module_id = _TINY_OBJECT + ".module_id"
    cudafe = _TINY_OBJECT + ".cudafe1.cpp"
    if front:
        asserts.equals(env, "front", option_value(front, "--mode"))
        asserts.equals(env, full, gencodes(front))
        asserts.equals(env, sorted([cudafe, module_id]), sorted([f.short_path for f in front.outputs.to_list()]))
    devices = find_actions(env, "CudaDeviceCompile")
    targets = [option_value(a, "--target") for a in devices]
    asserts.equals(env, ["sm_86", "sm_90a", "compute_89"], targets, "one device action per target arch, in gencode order")
    payloads = []
    for a in devices:
        target = option_value(a, "--target")
        asserts.equals(env, "device", option_value(a, "--mode"))
        asserts.equals(env, NVCC, option_value(a, "--nvcc"))

        # Every device action sees the file's whole nvcc command (its stages are cut from it).
        asserts.equals(env, full, gencodes(a))
        asserts.true(env, option_value(a, "--module_id_in").endswith(module_id), "reads the front end's module id")
        inputs = [f.short_path for f in a.inputs.to_list()]
        asserts.true(env, module_id in inputs and "tests/analysis/tiny.h" in inputs, str(inputs))
        outputs = sorted([f.short_path for f in a.outputs.to_list()])
        payload = "{}.{}.{}".format(_TINY_OBJECT, target, "cubin" if target.startswith("sm_") else "ptx")
        asserts.equals(env, sorted([payload, "{}.{}.stub.c".format(_TINY_OBJECT, target)]), outputs)
        payloads.append(payload)
    host = find_action(env, "CudaHostCompile")
    if host:
        asserts.equals(env, "host", option_value(host, "--mode"))
        asserts.equals(env, full, gencodes(host))
        asserts.equals(env, [_TINY_OBJECT], [f.short_path for f in host.outputs.to_list()])
        device_args = [a for a in host.argv if a.startswith("--device=")]
        asserts.equals(env, ["sm_86", "sm_90a", "compute_89"], [a[len("--device="):].split("=")[0] for a in device_args])
        inputs = [f.short_path for f in host.inputs.to_list()]
        for p in payloads + [cudafe]:
            asserts.true(env, p in inputs, "the host action reads " + p)
    return analysistest.end(env)

_per_arch_test = analysistest.make(_per_arch_test_impl, config_settings = flags(archs = _MULTI_ARCHS))

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
    config_settings = flags(archs = _MULTI_ARCHS, device_actions = "per_file"),
)

def _per_source_test_impl(ctx):
    env = analysistest.begin(ctx)
    actions = find_actions(env, "CudaCompile")
    asserts.equals(env, 2, len(actions), "one CudaCompile action per .cu")
    messages = sorted([option_value(a, "--src") for a in actions])
    asserts.equals(env, ["tests/analysis/tiny.cu", "tests/analysis/tiny2.cu"], messages)
    for a in actions:
        assert_argv_contains(env, a, ["-DTINY_EXTRA=1", "-DTINY_DEP_DEFINE", "--fake-copt"])
        assert_argv_not_contains(env, a, ["-isystem"])
    return analysistest.end(env)

_per_source_test = analysistest.make(_per_source_test_impl, config_settings = flags(device_actions = "per_file"))

def _sm75_family_no_arch_test_impl(ctx):
    env = analysistest.begin(ctx)
    for mnemonic in ("CudaCompile", "CudaHostFrontend", "CudaDeviceCompile", "CudaHostCompile"):
        asserts.equals(env, [], find_actions(env, mnemonic), "sm75 family with --cuda_archs=sm_80: no compile")
    return analysistest.end(env)

_sm75_family_no_arch_test = analysistest.make(_sm75_family_no_arch_test_impl, config_settings = flags(archs = ["sm_80"]))

def cuda_library_test_suite(name):
    """Declares the cuda_library analysis tests and a test_suite `name`.

    Args:
      name: name of the test_suite.
    """
    _static_flags_test(name = name + "_static_flags_test", target_under_test = ":tiny")
    _generic_archs_test(name = name + "_generic_archs_test", target_under_test = ":tiny")
    _per_arch_test(name = name + "_per_arch_test", target_under_test = ":tiny")
    _per_source_test(name = name + "_per_source_test", target_under_test = ":tiny_two_sources")
    _sm75_family_no_arch_test(name = name + "_sm75_family_no_arch_test", target_under_test = ":tiny_sm75")
    native.test_suite(
        name = name,
        tests = [
            name + "_static_flags_test",
            name + "_generic_archs_test",
            name + "_per_arch_test",
            name + "_per_source_test",
            name + "_sm75_family_no_arch_test",
        ],
    )
