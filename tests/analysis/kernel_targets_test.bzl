"""//marlin kernel targets: -gencode per family under --cuda_archs, scheme gating, codegen argv.

The kernel files are picked from kernel_plan.bzl by family and scheme, so the tests follow the
generated plan instead of hard-coding file names.
"""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")
load("//marlin/private/actions:cuda_compile.bzl", "gencode_target")
load("//marlin/private/generated:kernel_plan.bzl", "MARLIN_KERNEL_FILES")
load(":common.bzl", "assert_argv_contains", "find_action", "find_actions", "flags", "gencodes", "option_value")

def _pick(family, scheme = None, without_scheme = None):
    for f in MARLIN_KERNEL_FILES["vllm"]:
        if f["family"] != family:
            continue
        if scheme and scheme not in f["schemes"]:
            continue
        if without_scheme and without_scheme in f["schemes"]:
            continue
        return f["name"]
    fail("kernel_plan.bzl has no {} file (scheme {}, without {})".format(family, scheme, without_scheme))

SM75_FILE = _pick("sm75")
SM80_FILE = _pick("sm80", scheme = "gptq_int4")
SM80_OTHER_FILE = _pick("sm80", without_scheme = "gptq_int4")
SM89_FILE = _pick("sm89")

def _gencode_test_impl(ctx):
    env = analysistest.begin(ctx)
    expected = ctx.attr.expected_gencodes
    devices = find_actions(env, "CudaDeviceCompile")
    if not expected:
        for mnemonic in ("CudaCompile", "CudaHostFrontend", "CudaDeviceCompile", "CudaHostCompile"):
            asserts.equals(env, [], find_actions(env, mnemonic), "expected no " + mnemonic + " action")
    else:
        # Default --cuda_device_actions=per_arch: a host front end, one device action per
        # gencode, one host action.
        find_action(env, "CudaHostFrontend")
        action = find_action(env, "CudaHostCompile")
        if action:
            asserts.equals(env, expected, gencodes(action))
        asserts.equals(env, [gencode_target(g) for g in expected], [option_value(a, "--target") for a in devices])
    return analysistest.end(env)

def _gencode_test(archs, expected, schemes = ["all"]):
    """A test rule for one flag combination; `expected` is stored as the attribute default."""
    return analysistest.make(
        _gencode_test_impl,
        attrs = {"expected_gencodes": attr.string_list(default = expected)},
        config_settings = flags(archs = archs, schemes = schemes),
    )

_SM80 = "arch=compute_80,code=sm_80"
_SM89 = "arch=compute_89,code=sm_89"

# --cuda_archs=sm_80,sm_89: sm_80 SASS for sm80 files, sm_89 SASS for sm89 files, no sm75.
_sm80_file_sm80_sm89_test = _gencode_test(["sm_80", "sm_89"], [_SM80])
_sm89_file_sm80_sm89_test = _gencode_test(["sm_80", "sm_89"], [_SM89])
_sm75_file_sm80_sm89_test = _gencode_test(["sm_80", "sm_89"], [])

# sm_86/87/89 collapse into one sm_80 SASS; sm_90 / sm_90a / sm_100 / sm_120 get their own.
_sm80_file_ampere_hopper_test = _gencode_test(
    ["sm_86", "sm_87", "sm_89", "sm_90", "sm_90a", "sm_100", "sm_120"],
    [_SM80, "arch=compute_90,code=sm_90", "arch=compute_90a,code=sm_90a", "arch=compute_100,code=sm_100", "arch=compute_120,code=sm_120"],
)
_sm89_file_sm90_test = _gencode_test(["sm_90"], [])
_sm89_file_sm120_test = _gencode_test(["sm_90", "sm_120"], ["arch=compute_120,code=sm_120"])

# compute_XX adds PTX: compute_89 -> compute_80 PTX for sm80 files, compute_89 PTX for sm89 files.
_sm80_file_compute89_test = _gencode_test(["sm_80", "compute_89"], [_SM80, "arch=compute_80,code=compute_80"])
_sm89_file_compute89_test = _gencode_test(["compute_89"], ["arch=compute_89,code=compute_89"])

# sm75 files compile only for sm_75 / compute_75; sm80 files not at all then.
_sm75_file_sm75_test = _gencode_test(["sm_75", "compute_75"], ["arch=compute_75,code=sm_75", "arch=compute_75,code=compute_75"])
_sm80_file_sm75_test = _gencode_test(["sm_75"], [])

# --marlin_schemes: a file none of whose schemes is selected compiles nothing.
_selected_scheme_test = _gencode_test(["sm_80"], [_SM80], schemes = ["gptq_int4"])
_unselected_scheme_test = _gencode_test(["sm_80"], [], schemes = ["gptq_int4"])

def _codegen_file_test_impl(ctx):
    env = analysistest.begin(ctx)
    action = find_action(env, "MarlinCodegen")
    if action:
        assert_argv_contains(env, action, ["--preset=vllm", "--schemes=gptq_int4", "--only={}.cu".format(SM80_FILE)])
        outputs = [f.basename for f in action.outputs.to_list()]
        asserts.equals(env, [SM80_FILE + ".cu"], outputs)
    return analysistest.end(env)

_codegen_file_test = analysistest.make(_codegen_file_test_impl, config_settings = flags(archs = ["sm_80"], schemes = ["gptq_int4"]))

def _codegen_unselected_test_impl(ctx):
    env = analysistest.begin(ctx)
    asserts.equals(env, [], find_actions(env, "MarlinCodegen"), "no codegen when no scheme of the file is selected")
    return analysistest.end(env)

_codegen_unselected_test = analysistest.make(_codegen_unselected_test_impl, config_settings = flags(archs = ["sm_80"], schemes = ["gptq_int4"]))

def _codegen_manifest_test_impl(ctx):
    env = analysistest.begin(ctx)
    action = find_action(env, "MarlinCodegen")
    if action:
        assert_argv_contains(env, action, [
            "--preset=vllm",
            "--archs=sm_80,sm_89,compute_90",
            "--schemes=gptq_int4,fp8",
            "--only=manifest.json",
        ])
    return analysistest.end(env)

_codegen_manifest_test = analysistest.make(
    _codegen_manifest_test_impl,
    config_settings = flags(archs = ["compute_90", "sm_89", "sm_80"], schemes = ["fp8", "gptq_int4"]),
)

def _codegen_selector_test_impl(ctx):
    env = analysistest.begin(ctx)
    action = find_action(env, "MarlinCodegen")
    if action:
        assert_argv_contains(env, action, ["--only=kernel_selector.h"])
        from_manifest = [a for a in action.argv if a.startswith("--from_manifest=")]
        asserts.equals(env, 1, len(from_manifest))
        asserts.true(env, from_manifest[0].endswith("marlin/kernels_manifest/manifest.json"), str(from_manifest))
    return analysistest.end(env)

_codegen_selector_test = analysistest.make(_codegen_selector_test_impl)

def kernel_targets_test_suite(name):
    """Declares the kernel-target analysis tests and a test_suite `name`.

    Args:
      name: name of the test_suite.
    """
    cases = [
        (_sm80_file_sm80_sm89_test, "sm80_file_sm80_sm89", SM80_FILE),
        (_sm89_file_sm80_sm89_test, "sm89_file_sm80_sm89", SM89_FILE),
        (_sm75_file_sm80_sm89_test, "sm75_file_sm80_sm89", SM75_FILE),
        (_sm80_file_ampere_hopper_test, "sm80_file_ampere_hopper", SM80_FILE),
        (_sm89_file_sm90_test, "sm89_file_sm90", SM89_FILE),
        (_sm89_file_sm120_test, "sm89_file_sm120", SM89_FILE),
        (_sm80_file_compute89_test, "sm80_file_compute89", SM80_FILE),
        (_sm89_file_compute89_test, "sm89_file_compute89", SM89_FILE),
        (_sm75_file_sm75_test, "sm75_file_sm75", SM75_FILE),
        (_sm80_file_sm75_test, "sm80_file_sm75", SM80_FILE),
        (_selected_scheme_test, "selected_scheme", SM80_FILE),
        (_unselected_scheme_test, "unselected_scheme", SM80_OTHER_FILE),
        (_codegen_file_test, "codegen_file", SM80_FILE + "_src"),
        (_codegen_unselected_test, "codegen_unselected", SM80_OTHER_FILE + "_src"),
        (_codegen_manifest_test, "codegen_manifest", "kernels_manifest"),
        (_codegen_selector_test, "codegen_selector", "kernels_selector_h"),
    ]
    tests = []
    for rule, case, target in cases:
        test_name = "{}_{}_test".format(name, case)
        rule(name = test_name, target_under_test = "//marlin:" + target)
        tests.append(test_name)
    native.test_suite(name = name, tests = tests)
