"""`cc_bundle`: a cc_library-compatible target whose `bazel build` builds its deps' outputs."""

def _cc_bundle_impl(ctx):
    return [
        # A native cc_library with only deps has no default outputs, so `bazel build` on it would
        # compile nothing; listing the deps' files (the kernel archives) makes it build them.
        DefaultInfo(files = depset(transitive = [dep[DefaultInfo].files for dep in ctx.attr.deps])),
        cc_common.merge_cc_infos(cc_infos = [dep[CcInfo] for dep in ctx.attr.deps]),
    ]

cc_bundle = rule(
    implementation = _cc_bundle_impl,
    doc = """Merges the `CcInfo` of `deps` (headers, defines, link inputs), exactly as a `cc_library`
with only `deps` would, and makes their default outputs its own, so that
`bazel build //marlin:kernels` compiles every selected kernel file. Any `cc_*` rule or
`cuda_library` can depend on it.""",
    attrs = {
        "deps": attr.label_list(
            doc = "`cc_library`/`cuda_library` targets to bundle.",
            providers = [CcInfo],
        ),
    },
    provides = [CcInfo],
)
