"""`marlin_codegen`: the explicit `kind` decides the output; attributes of another kind fail."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")
load(":common.bzl", "find_action", "flags")

def _expect_failure_impl(ctx):
    env = analysistest.begin(ctx)
    for fragment in ctx.attr.expected_fragments:
        asserts.expect_failure(env, fragment)
    return analysistest.end(env)

def _failure_test(*fragments):
    return analysistest.make(
        _expect_failure_impl,
        attrs = {"expected_fragments": attr.string_list(default = list(fragments))},
        expect_failure = True,
    )

_kernel_file_needs_cu_test = _failure_test("kind = \"kernel_file\" needs `output`", "got 'manifest.json'")
_manifest_with_output_test = _failure_test("`output` is only for kind = \"kernel_file\"", "always writes manifest.json")
_selector_needs_manifest_test = _failure_test("kind = \"selector\" needs `manifest`")
_manifest_with_manifest_test = _failure_test("`manifest` is only for kind = \"selector\"")

def _manifest_kind_test_impl(ctx):
    env = analysistest.begin(ctx)
    action = find_action(env, "MarlinCodegen")
    if action:
        asserts.equals(env, ["manifest.json"], [f.basename for f in action.outputs.to_list()])
        asserts.true(env, "--only=manifest.json" in action.argv, str(action.argv))
    return analysistest.end(env)

# A target named like a kernel file still generates what its kind says.
_manifest_kind_test = analysistest.make(
    _manifest_kind_test_impl,
    config_settings = flags(archs = ["sm_80"], schemes = ["gptq_int4"]),
)

def codegen_test_suite(name):
    """Declares the marlin_codegen fixtures' tests and a test_suite `name`.

    Args:
      name: name of the test_suite.
    """
    cases = [
        (_kernel_file_needs_cu_test, "kernel_file_needs_cu", ":codegen_kernel_file_named_manifest"),
        (_manifest_with_output_test, "manifest_with_output", ":codegen_manifest_with_output"),
        (_selector_needs_manifest_test, "selector_needs_manifest", ":codegen_selector_without_manifest"),
        (_manifest_with_manifest_test, "manifest_with_manifest", ":codegen_manifest_with_manifest"),
        (_manifest_kind_test, "manifest_kind", ":sm80_kernel_named_manifest.cu"),
    ]
    tests = []
    for rule, case, target in cases:
        test_name = "{}_{}_test".format(name, case)
        rule(name = test_name, target_under_test = target)
        tests.append(test_name)
    native.test_suite(name = name, tests = tests)
