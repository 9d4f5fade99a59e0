"""`marlin_codegen`: runs the kernel generator for one output (kernel file, manifest or selector)."""

load("//marlin/private:arch_rules.bzl", "VALID_KERNEL_FAMILIES", "family_gencode")
load("//marlin/private:kernel_plan.bzl", "MARLIN_PRESETS")
load("//marlin/private:providers.bzl", "MarlinConfigInfo")

_MANIFEST = "manifest.json"
_SELECTOR = "kernel_selector.h"

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

def _marlin_codegen_impl(ctx):
    config = ctx.attr._config[MarlinConfigInfo]
    output = ctx.attr.output
    preset = ctx.attr.preset
    if preset not in MARLIN_PRESETS:
        fail("unknown preset '{}'; valid: {}".format(preset, ", ".join(MARLIN_PRESETS.keys())))

    if output.endswith(".cu"):
        # A kernel file: generate it only when one of its schemes is selected and its family
        # has a requested arch; otherwise nothing is generated and nothing compiles.
        selected = [s for s in ctx.attr.schemes if s in config.schemes]
        if not selected or not family_gencode(ctx.attr.family, config.archs):
            return [DefaultInfo(files = depset())]
        out = ctx.actions.declare_file("{}/{}".format(ctx.label.name, output))
        _run_generator(ctx, out, [
            "--preset=" + preset,
            "--schemes=" + ",".join(selected),
            "--only=" + output,
        ])
    elif output == _MANIFEST:
        selected = [s for s in MARLIN_PRESETS[preset] if s in config.schemes]
        if not selected:
            fail("none of --marlin_schemes ({}) belongs to preset '{}': {}".format(
                ", ".join(config.schemes),
                preset,
                ", ".join(MARLIN_PRESETS[preset]),
            ))
        out = ctx.actions.declare_file("{}/{}".format(ctx.label.name, output))
        _run_generator(ctx, out, [
            "--preset=" + preset,
            "--archs=" + ",".join(config.archs),
            "--schemes=" + ",".join(selected),
            "--only=" + output,
        ])
    elif output == _SELECTOR:
        if not ctx.file.manifest:
            fail("{}: output '{}' needs `manifest`".format(ctx.label, _SELECTOR))
        out = ctx.actions.declare_file("{}/{}".format(ctx.label.name, output))
        _run_generator(
            ctx,
            out,
            ["--from_manifest=" + ctx.file.manifest.path, "--only=" + output],
            inputs = [ctx.file.manifest],
        )
    else:
        fail("{}: output '{}' is none of <kernel file>.cu, {}, {}".format(ctx.label, output, _MANIFEST, _SELECTOR))

    return [DefaultInfo(files = depset([out]))]

marlin_codegen = rule(
    implementation = _marlin_codegen_impl,
    doc = """Runs `//tools/marlin_gen:generate_kernels` once (one `MarlinCodegen` action) for one output.

- `<name>.cu`: `--preset --schemes=<this file's schemes that --marlin_schemes selects> --only=<name>.cu`;
  no action and no output when none is selected or the file's `family` has no requested arch;
- `manifest.json`: `--preset --archs=<--cuda_archs> --schemes=<selected schemes of the preset>`;
- `kernel_selector.h`: `--from_manifest=<manifest> --only=kernel_selector.h`.

The output is `<target name>/<output>` in this package's bin directory.
""",
    attrs = {
        "output": attr.string(
            mandatory = True,
            doc = "The file to generate: a kernel file name ending in `.cu`, `manifest.json` or `kernel_selector.h`.",
        ),
        "preset": attr.string(
            default = "vllm",
            doc = "Scheme preset (a key of `MARLIN_PRESETS`).",
        ),
        "family": attr.string(
            default = "",
            values = VALID_KERNEL_FAMILIES,
            doc = "For a kernel file: its family (`sm75`, `sm80`, `sm89`) from the kernel plan.",
        ),
        "schemes": attr.string_list(
            doc = "For a kernel file: the schemes it holds, from the kernel plan.",
        ),
        "manifest": attr.label(
            allow_single_file = [".json"],
            doc = "For `kernel_selector.h`: the `manifest.json` to render it from.",
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
