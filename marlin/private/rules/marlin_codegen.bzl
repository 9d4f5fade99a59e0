"""`marlin_codegen`: runs the kernel generator for one output of an explicit `kind`."""

load("//marlin/private:arch_rules.bzl", "VALID_KERNEL_FAMILIES", "family_gencode")
load("//marlin/private:providers.bzl", "MarlinConfigInfo")
load("//marlin/private/generated:kernel_plan.bzl", "MARLIN_PRESETS")

# What a marlin_codegen target generates; each kind writes one file.
CODEGEN_KINDS = struct(
    KERNEL_FILE = "kernel_file",  # <output>.cu, a kernel file of the plan
    MANIFEST = "manifest",  # manifest.json
    SELECTOR = "selector",  # kernel_selector.h, rendered from a manifest
)

VALID_CODEGEN_KINDS = [CODEGEN_KINDS.KERNEL_FILE, CODEGEN_KINDS.MANIFEST, CODEGEN_KINDS.SELECTOR]

_FILE_NAMES = {
    CODEGEN_KINDS.MANIFEST: "manifest.json",
    CODEGEN_KINDS.SELECTOR: "kernel_selector.h",
}

def _run_generator(ctx, out, arguments, inputs = []):
    """Registers one `MarlinCodegen` action writing `out` (the generator's `--out_dir` is its dir)."""
    ctx.actions.run(
        executable = ctx.executable._generator,
        arguments = arguments + ["--out_dir=" + out.dirname, "--quiet"],
        inputs = inputs,
        outputs = [out],
        mnemonic = "MarlinCodegen",
        progress_message = "Generating {}".format(out.short_path),
    )

def _check_attrs(ctx):
    """Fails naming the attribute that does not belong to (or is missing for) `kind`."""
    kind = ctx.attr.kind
    if kind == CODEGEN_KINDS.KERNEL_FILE:
        if not ctx.attr.output.endswith(".cu") or ctx.attr.output == ".cu":
            fail("{}: kind = \"{}\" needs `output`, the kernel file name `<name>.cu` of the kernel plan; got '{}'".format(ctx.label, kind, ctx.attr.output))
        if not ctx.attr.family:
            fail("{}: kind = \"{}\" needs `family` (sm75, sm80 or sm89) from the kernel plan".format(ctx.label, kind))
        if not ctx.attr.schemes:
            fail("{}: kind = \"{}\" needs `schemes` from the kernel plan".format(ctx.label, kind))
    else:
        for attr_name, given in [("output", ctx.attr.output), ("family", ctx.attr.family), ("schemes", ctx.attr.schemes)]:
            if given:
                fail("{}: `{}` is only for kind = \"{}\"; kind = \"{}\" always writes {}".format(
                    ctx.label,
                    attr_name,
                    CODEGEN_KINDS.KERNEL_FILE,
                    kind,
                    _FILE_NAMES[kind],
                ))
    if kind == CODEGEN_KINDS.SELECTOR and not ctx.file.manifest:
        fail("{}: kind = \"{}\" needs `manifest`, the manifest.json to render it from".format(ctx.label, kind))
    if kind != CODEGEN_KINDS.SELECTOR and ctx.file.manifest:
        fail("{}: `manifest` is only for kind = \"{}\"".format(ctx.label, CODEGEN_KINDS.SELECTOR))

def _marlin_codegen_impl(ctx):
    config = ctx.attr._config[MarlinConfigInfo]
    kind = ctx.attr.kind
    preset = ctx.attr.preset
    if preset not in MARLIN_PRESETS:
        fail("unknown preset '{}'; valid: {}".format(preset, ", ".join(MARLIN_PRESETS.keys())))
    _check_attrs(ctx)
    file_name = ctx.attr.output if kind == CODEGEN_KINDS.KERNEL_FILE else _FILE_NAMES[kind]

    if kind == CODEGEN_KINDS.KERNEL_FILE:
        # Generated only when one of its schemes is selected and its family has a requested
        # arch; otherwise nothing is generated and nothing compiles.
        selected = [s for s in ctx.attr.schemes if s in config.schemes]
        if not selected or not family_gencode(ctx.attr.family, config.archs):
            return [DefaultInfo(files = depset())]
        out = ctx.actions.declare_file("{}/{}".format(ctx.label.name, file_name))
        _run_generator(ctx, out, [
            "--preset=" + preset,
            "--schemes=" + ",".join(selected),
            "--only=" + file_name,
        ])
    elif kind == CODEGEN_KINDS.MANIFEST:
        selected = [s for s in MARLIN_PRESETS[preset] if s in config.schemes]
        if not selected:
            fail("none of --marlin_schemes ({}) belongs to preset '{}': {}".format(
                ", ".join(config.schemes),
                preset,
                ", ".join(MARLIN_PRESETS[preset]),
            ))
        out = ctx.actions.declare_file("{}/{}".format(ctx.label.name, file_name))
        _run_generator(ctx, out, [
            "--preset=" + preset,
            "--archs=" + ",".join(config.archs),
            "--schemes=" + ",".join(selected),
            "--only=" + file_name,
        ])
    else:
        out = ctx.actions.declare_file("{}/{}".format(ctx.label.name, file_name))
        _run_generator(
            ctx,
            out,
            ["--from_manifest=" + ctx.file.manifest.path, "--only=" + file_name],
            inputs = [ctx.file.manifest],
        )

    return [DefaultInfo(files = depset([out]))]

marlin_codegen = rule(
    implementation = _marlin_codegen_impl,
    doc = """Runs `//tools/marlin_gen:generate_kernels` once (one `MarlinCodegen` action) for one output.

What it generates is set by `kind`, never guessed from a file name:

- `kernel_file`: `<output>` (`<name>.cu`) with `--preset --schemes=<this file's schemes that
  --marlin_schemes selects> --only=<output>`; no action and no output when none is selected or
  the file's `family` has no requested arch;
- `manifest`: `manifest.json` with `--preset --archs=<--cuda_archs> --schemes=<selected schemes of
  the preset>`;
- `selector`: `kernel_selector.h` with `--from_manifest=<manifest> --only=kernel_selector.h`.

The output is `<target name>/<file>` in this package's bin directory. An attribute that does not
belong to the kind (or a missing one) fails analysis naming it.
""",
    attrs = {
        "kind": attr.string(
            mandatory = True,
            values = VALID_CODEGEN_KINDS,
            doc = "What to generate: `kernel_file`, `manifest` or `selector`.",
        ),
        "output": attr.string(
            doc = "For `kind = \"kernel_file\"`: the kernel file name `<name>.cu` from the kernel plan.",
        ),
        "preset": attr.string(
            default = "vllm",
            doc = "Scheme preset (a key of `MARLIN_PRESETS`).",
        ),
        "family": attr.string(
            default = "",
            values = VALID_KERNEL_FAMILIES,
            doc = "For `kind = \"kernel_file\"`: its family (`sm75`, `sm80`, `sm89`) from the kernel plan.",
        ),
        "schemes": attr.string_list(
            doc = "For `kind = \"kernel_file\"`: the schemes it holds, from the kernel plan.",
        ),
        "manifest": attr.label(
            allow_single_file = [".json"],
            doc = "For `kind = \"selector\"`: the `manifest.json` to render it from (a `kind = \"manifest\"` target).",
        ),
        "_config": attr.label(
            default = Label("//marlin:config"),
            providers = [MarlinConfigInfo],
            doc = "The validated flags.",
        ),
        "_generator": attr.label(
            default = Label("//tools/marlin_gen:generate_kernels"),
            executable = True,
            cfg = "exec",
            doc = "The kernel generator.",
        ),
    },
)
