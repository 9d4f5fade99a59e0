"""`marlin_kernel_library`: every Marlin kernel file of a preset, its selector, one cc target."""

load("//marlin/private/generated:kernel_plan.bzl", "MARLIN_KERNEL_FILES")
load("//marlin/private/rules:cc_bundle.bzl", "cc_bundle")
load("//marlin/private/rules:cuda_library.bzl", "cuda_library")
load("//marlin/private/rules:marlin_codegen.bzl", "marlin_codegen")

def marlin_kernel_library(
        name,
        preset = "vllm",
        headers = Label("//marlin:headers"),
        copts = [],
        visibility = None,
        tags = [],
        **kwargs):
    """Generates and compiles the Marlin kernels of `preset`, as one `cc_library`-like target.

    For every kernel file `F` of `MARLIN_KERNEL_FILES[preset]` (kernel_plan.bzl):

    - `F_src`: `marlin_codegen` writing `F.cu` (nothing when none of its schemes is selected);
    - `F`: `cuda_library` compiling it for the file's family (`family_gencode`), `alwayslink`,
      so the selector's function pointers resolve; it compiles nothing when there is no source
      or no arch of its family is requested.

    Then `<name>_manifest` (`manifest.json` for `--cuda_archs` and `--marlin_schemes`),
    `<name>_selector_h` (`kernel_selector.h` rendered from it), `<name>_selector` (a header-only
    `cc_library`: `#include "marlin/kernel_selector.h"`), and `name`: a `cc_bundle` of all of it
    plus `headers` (`CcInfo` like a `cc_library`, and `bazel build` on it compiles the kernels),
    for downstream `cc_*` / `cuda_library` targets. Put one `marlin_kernel_library` per package:
    the kernel targets are named after the files.

    Example (in `marlin/BUILD.bazel`, giving `//marlin:kernels` and e.g.
    `//marlin:sm80_kernel_float16_u4b8_float16`):

        marlin_kernel_library(name = "kernels", preset = "vllm")

    Args:
      name: name of the resulting `cc_bundle` (depend on it like on a `cc_library`); also the
        prefix of the manifest and selector targets.
      preset: scheme preset, a key of `MARLIN_KERNEL_FILES`.
      headers: the kernel headers (`marlin/kernel.h`, `marlin/marlin_template.cuh`, ...).
      copts: extra nvcc options for every kernel file.
      visibility: visibility of `name`, the manifest and the selector targets.
      tags: tags for every target.
      **kwargs: passed to the final `cc_bundle`.
    """
    if preset not in MARLIN_KERNEL_FILES:
        fail("marlin_kernel_library: unknown preset '{}'; valid: {}".format(
            preset,
            ", ".join(MARLIN_KERNEL_FILES.keys()),
        ))
    kernel_targets = []
    for kernel_file in MARLIN_KERNEL_FILES[preset]:
        file_name = kernel_file["name"]
        marlin_codegen(
            name = file_name + "_src",
            kind = "kernel_file",
            output = file_name + ".cu",
            preset = preset,
            family = kernel_file["family"],
            schemes = kernel_file["schemes"],
            tags = tags,
        )
        cuda_library(
            name = file_name,
            srcs = [":" + file_name + "_src"],
            arch_family = kernel_file["family"],
            copts = copts,
            alwayslink = True,
            deps = [headers],
            tags = tags,
        )
        kernel_targets.append(":" + file_name)

    marlin_codegen(
        name = name + "_manifest",
        kind = "manifest",
        preset = preset,
        tags = tags,
        visibility = visibility,
    )
    marlin_codegen(
        name = name + "_selector_h",
        kind = "selector",
        manifest = ":" + name + "_manifest",
        tags = tags,
    )
    native.cc_library(
        name = name + "_selector",
        hdrs = [":" + name + "_selector_h"],
        include_prefix = "marlin",
        strip_include_prefix = name + "_selector_h",
        deps = [headers],
        tags = tags,
        visibility = visibility,
    )
    cc_bundle(
        name = name,
        deps = kernel_targets + [
            ":" + name + "_selector",
            headers,
        ],
        tags = tags,
        visibility = visibility,
        **kwargs
    )
