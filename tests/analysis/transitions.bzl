"""`with_marlin_flags`: builds targets under fixed rules_marlin flags (test helper).

Lets a test check generated files (manifest, selector) for a flag set other than the
invocation's, e.g. every family and scheme, without compiling any kernel.
"""

load(":common.bzl", "CUDA_ARCHS", "DEVICE_ACTIONS", "SCHEMES")

def _marlin_flags_transition_impl(settings, attr):
    _ignore = settings  # buildifier: disable=unused-variable
    return {
        CUDA_ARCHS: attr.cuda_archs,
        SCHEMES: attr.schemes,
        DEVICE_ACTIONS: attr.device_actions,
    }

_marlin_flags_transition = transition(
    implementation = _marlin_flags_transition_impl,
    inputs = [],
    outputs = [CUDA_ARCHS, SCHEMES, DEVICE_ACTIONS],
)

def _with_marlin_flags_impl(ctx):
    if not ctx.attr.own_dir:
        return [DefaultInfo(files = depset(ctx.files.srcs))]

    # Builds of one target under two flag sets share file paths in runfiles; copies under
    # <name>/ keep them apart.
    copies = []
    for f in ctx.files.srcs:
        copy = ctx.actions.declare_file("{}/{}".format(ctx.label.name, f.basename))
        ctx.actions.symlink(output = copy, target_file = f)
        copies.append(copy)
    return [DefaultInfo(files = depset(copies), runfiles = ctx.runfiles(files = copies))]

with_marlin_flags = rule(
    implementation = _with_marlin_flags_impl,
    doc = "Forwards the files of `srcs`, built with `cuda_archs`, `schemes` and `device_actions` as the rules_marlin flags.",
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
        "own_dir": attr.bool(
            default = False,
            doc = "Provide the files as `<name>/<basename>` (links), apart from other configurations' builds.",
        ),
        "device_actions": attr.string(
            default = "per_arch",
            doc = "Value of `--cuda_device_actions`.",
        ),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
