"""`with_marlin_flags`: builds targets under fixed `--cuda_archs` / `--marlin_schemes` (test helper).

Lets a test check generated files (manifest, selector) for a flag set other than the
invocation's, e.g. every family and scheme, without compiling any kernel.
"""

load(":common.bzl", "CUDA_ARCHS", "SCHEMES")

def _marlin_flags_transition_impl(settings, attr):
    _ignore = settings  # buildifier: disable=unused-variable
    return {
        CUDA_ARCHS: attr.cuda_archs,
        SCHEMES: attr.schemes,
    }

_marlin_flags_transition = transition(
    implementation = _marlin_flags_transition_impl,
    inputs = [],
    outputs = [CUDA_ARCHS, SCHEMES],
)

def _with_marlin_flags_impl(ctx):
    return [DefaultInfo(files = depset(ctx.files.srcs))]

with_marlin_flags = rule(
    implementation = _with_marlin_flags_impl,
    doc = "Forwards the files of `srcs`, built with `cuda_archs` and `schemes` as the rules_marlin flags.",
    attrs = {
        "srcs": attr.label_list(
            cfg = _marlin_flags_transition,
            allow_files = True,
            doc = "Targets to build under the flags.",
        ),
        "cuda_archs": attr.string_list(
            mandatory = True,
            doc = "Value of `--cuda_archs`.",
        ),
        "schemes": attr.string_list(
            default = ["all"],
            doc = "Value of `--marlin_schemes`.",
        ),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
