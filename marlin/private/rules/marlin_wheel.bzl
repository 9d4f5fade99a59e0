"""`marlin_wheel`: a pip-installable wheel of the marlin package with libmarlin.so inside."""

load("//marlin/private:providers.bzl", "MarlinConfigInfo")

def _marlin_wheel_impl(ctx):
    config = ctx.attr._config[MarlinConfigInfo]
    out = ctx.actions.declare_file("marlin-{}-py3-none-{}.whl".format(ctx.attr.version, ctx.attr.platform))
    library = ctx.file.library
    sources = [f for f in ctx.files.package if f.extension == "py"]
    args = ctx.actions.args()
    args.add("--out", out)
    args.add("--version", ctx.attr.version)
    args.add("--platform", ctx.attr.platform)
    args.add("--library", library)
    args.add_joined("--archs", config.archs, join_with = ",")
    args.add_joined("--schemes", config.schemes, join_with = ",")
    args.add_all(sources)
    ctx.actions.run(
        executable = ctx.executable._builder,
        arguments = [args],
        inputs = sources + [library],
        outputs = [out],
        mnemonic = "MarlinWheel",
        progress_message = "Building wheel %s" % out.short_path,
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

marlin_wheel = rule(
    implementation = _marlin_wheel_impl,
    doc = """The wheel `marlin-<version>-py3-none-<platform>.whl`: the `package` sources as
`marlin/`, `library` as `marlin/libmarlin.so` (where the package looks first), and
`marlin/_build_info.json` with the `--cuda_archs` and `--marlin_schemes` of the build (also in
the METADATA keywords). Install with `pip install --no-deps <wheel>`.""",
    attrs = {
        "library": attr.label(
            doc = "The shared library (`//marlin/csrc:libmarlin.so`).",
            allow_single_file = [".so"],
            mandatory = True,
        ),
        "package": attr.label(
            doc = "The `py_library` of the marlin package; its `marlin/**/*.py` sources go in.",
            mandatory = True,
        ),
        "platform": attr.string(
            doc = "Wheel platform tag (PEP 425): the library is a host binary of this platform.",
            default = "linux_x86_64",
        ),
        "version": attr.string(doc = "Package version.", mandatory = True),
        "_builder": attr.label(
            doc = "tools/build_wheel.py, which writes the zip, its dist-info and RECORD.",
            default = "//tools:build_wheel",
            executable = True,
            cfg = "exec",
        ),
        "_config": attr.label(
            doc = "The validated flags: the archs and schemes recorded in the wheel.",
            default = "//marlin:config",
            providers = [MarlinConfigInfo],
        ),
    },
)
