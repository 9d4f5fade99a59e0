"""`cuda_library`: compiles `.cu` files with the local nvcc and links like a `cc_library`."""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")
load("@local_cuda//:defs.bzl", "CUDA_FOUND", "CUDA_NOT_FOUND_REASON", "CUDA_PATH", "CUDA_VERSION", "NVCC")
load("//marlin/private:arch_rules.bzl", "VALID_KERNEL_FAMILIES", "family_gencode")
load("//marlin/private:providers.bzl", "MarlinConfigInfo")
load("//marlin/private/actions:cuda_compile.bzl", "cuda_compile_action")

# nvcc adds the toolkit's include/ (and include/cccl) itself; host-side -isystem copies of them from
# @local_cuda//:cuda_headers are dropped from nvcc command lines.
_CUDA_INCLUDE_ROOT = Label("@local_cuda//:BUILD.bazel").workspace_root + "/"

_SRC_EXTENSIONS = ["cu", "cuh", "h", "hpp", "inl"]

def _package_dirs(ctx, paths):
    """`includes` entries -> execroot-relative dirs, source tree and bin tree."""
    root = ctx.label.workspace_root
    pkg = ctx.label.package
    dirs = []
    for p in paths:
        rel = "/".join([x for x in [root, pkg, p] if x and x != "."])
        dirs.append(rel or ".")
        dirs.append("/".join([x for x in [ctx.bin_dir.path, rel] if x]))
    return dirs

def _object_name(ctx, src):
    """`_objs/<target>/<src stem>.pic.o`, as `cc_library` names its objects."""
    stem = src.basename[:-len(src.extension) - 1] if src.extension else src.basename
    return "_objs/{}/{}.pic.o".format(ctx.label.name, stem)

def _cuda_library_impl(ctx):
    config = ctx.attr._config[MarlinConfigInfo]
    cc_toolchain = find_cpp_toolchain(ctx)
    feature_configuration = cc_common.configure_features(
        ctx = ctx,
        cc_toolchain = cc_toolchain,
        requested_features = ctx.features,
        unsupported_features = ctx.disabled_features,
    )

    deps_cc = [d[CcInfo] for d in ctx.attr.deps] + [ctx.attr._cudart[CcInfo]]
    deps_compilation = cc_common.merge_cc_infos(cc_infos = deps_cc).compilation_context

    own_includes = _package_dirs(ctx, ctx.attr.includes)
    compilation_context = cc_common.create_compilation_context(
        headers = depset(ctx.files.hdrs),
        includes = depset(own_includes),
        defines = depset(ctx.attr.defines),
    )

    gencode = family_gencode(ctx.attr.arch_family, config.archs)
    for f in ctx.files.srcs:
        if f.extension not in _SRC_EXTENSIONS:
            fail("{}: srcs: '{}' is none of {}".format(ctx.label, f.short_path, ", ".join(["." + e for e in _SRC_EXTENSIONS])))
    srcs = [f for f in ctx.files.srcs if f.extension == "cu"]
    objects = []
    device_code = []
    if srcs and gencode:
        if not CUDA_FOUND:
            fail("{} needs a CUDA toolkit: {}".format(ctx.label, CUDA_NOT_FOUND_REASON))
        inputs = depset(
            ctx.files.hdrs + [f for f in ctx.files.srcs if f.extension != "cu"],
            transitive = [deps_compilation.headers, cc_toolchain.all_files],
        )
        quote_includes = [".", ctx.bin_dir.path]
        if ctx.label.workspace_root:
            quote_includes += [ctx.label.workspace_root, ctx.bin_dir.path + "/" + ctx.label.workspace_root]
        seen = {}
        for src in srcs:
            out_path = _object_name(ctx, src)
            if out_path in seen:
                fail("{}: srcs {} and {} give the same object name".format(ctx.label, seen[out_path], src.short_path))
            seen[out_path] = src.short_path
            obj = ctx.actions.declare_file(out_path)
            device_code += cuda_compile_action(
                ctx,
                src = src,
                output = obj,
                nvcc = NVCC,
                nvcc_stages = ctx.executable._nvcc_stages,
                device_actions = config.device_actions,
                cuda_path = CUDA_PATH,
                cuda_version = CUDA_VERSION,
                ccbin = cc_toolchain.compiler_executable,
                gencode = gencode,
                inputs = inputs,
                defines = ctx.attr.defines + deps_compilation.defines.to_list(),
                quote_includes = quote_includes + deps_compilation.quote_includes.to_list(),
                includes = own_includes + deps_compilation.includes.to_list(),
                system_includes = [
                    d
                    for d in deps_compilation.system_includes.to_list()
                    if not d.startswith(_CUDA_INCLUDE_ROOT) and
                       not d.startswith(ctx.bin_dir.path + "/" + _CUDA_INCLUDE_ROOT)
                ],
                copts = ctx.attr.copts,
            )
            objects.append(obj)

    own_cc_infos = [CcInfo(compilation_context = compilation_context)]
    default_files = list(objects)
    if objects:
        compilation_outputs = cc_common.create_compilation_outputs(
            objects = depset(objects),
            pic_objects = depset(objects),
        )
        linking_context, linking_outputs = cc_common.create_linking_context_from_compilation_outputs(
            actions = ctx.actions,
            feature_configuration = feature_configuration,
            cc_toolchain = cc_toolchain,
            compilation_outputs = compilation_outputs,
            name = ctx.label.name,
            alwayslink = ctx.attr.alwayslink,
            disallow_dynamic_library = True,
        )
        own_cc_infos.append(CcInfo(linking_context = linking_context))
        lib = linking_outputs.library_to_link
        if lib:
            default_files = [f for f in [lib.pic_static_library, lib.static_library] if f]

    return [
        DefaultInfo(files = depset(default_files)),
        OutputGroupInfo(objects = depset(objects), device_code = depset(device_code)),
        cc_common.merge_cc_infos(direct_cc_infos = own_cc_infos, cc_infos = deps_cc),
    ]

cuda_library = rule(
    implementation = _cuda_library_impl,
    doc = """Compiles CUDA sources with the local nvcc into a static library, like `cc_library`.

Each `.cu` file is compiled by nvcc's own stages of `nvcc -x cu -std=c++17 -O3 -Xcompiler -fPIC
-ccbin <cc>` (plus `-static-global-template-stub=false` on CUDA >= 12.8), `-gencode` per target
arch from `--cuda_archs` (mapped by `arch_family`, see `family_gencode`), the deps' includes and
defines. By default (`--cuda_device_actions=per_arch`) that is a `CudaHostFrontend` action (host
preprocessing, cudafe++, the module id), one `CudaDeviceCompile` action per target arch (a cubin,
or PTX for `compute_XX`; the archs of a file build in parallel) and a `CudaHostCompile` action
(fat binary + host compile: the object); `per_file` runs all of it in one `CudaCompile` action.
Both give the same object (//tests/analysis:per_arch_object_test); the `device_code` output group
holds the per-arch cubins and PTX.
Inputs are only the declared files: srcs, hdrs and the deps' headers. The objects are archived
with the C++ toolchain and returned in `CcInfo` together with static cudart, so `cc_binary` /
`cc_test` consumers link them. No relocatable device code (`-rdc`) and no device link step.

Example:

    load("@rules_marlin//marlin:defs.bzl", "cuda_library")

    cuda_library(
        name = "add",
        srcs = ["add.cu"],
        hdrs = ["add.h"],
    )

    cc_binary(
        name = "main",
        srcs = ["main.cc"],
        deps = [":add"],
    )
""",
    attrs = {
        "srcs": attr.label_list(
            # Any file, checked in the implementation: a generated source may legitimately be
            # empty (marlin_codegen with no selected scheme), which a typed list would reject.
            allow_files = True,
            doc = "`.cu` files to compile (one object each) and private headers (`.cuh`, `.h`, `.hpp`, `.inl`).",
        ),
        "hdrs": attr.label_list(
            allow_files = [".cuh", ".h", ".hpp", ".inl"],
            doc = "Public headers, available to the compile and to dependents.",
        ),
        "deps": attr.label_list(
            providers = [CcInfo],
            doc = "`cc_library` / `cuda_library` targets whose headers, includes and defines the compile uses and whose libraries dependents link.",
        ),
        "copts": attr.string_list(
            doc = "Extra nvcc options, appended after the generated ones (use `-Xcompiler` for host compiler options).",
        ),
        "defines": attr.string_list(
            doc = "Preprocessor defines (`NAME` or `NAME=VALUE`) for this compile and for dependents.",
        ),
        "includes": attr.string_list(
            doc = "Include directories relative to this package, for this compile and for dependents.",
        ),
        "alwayslink": attr.bool(
            default = False,
            doc = "Link every object into dependents even when no symbol is referenced (kernels registered only through tables).",
        ),
        "arch_family": attr.string(
            default = "",
            values = VALID_KERNEL_FAMILIES,
            doc = "Kernel family of the sources (`sm75`, `sm80`, `sm89`), mapping `--cuda_archs` to this file's targets (see `family_gencode`); empty: every requested arch as is. No target, no compile.",
        ),
        "_cc_toolchain": attr.label(
            default = Label("@bazel_tools//tools/cpp:current_cc_toolchain"),
            doc = "The C++ toolchain: host compiler (`-ccbin`), archiver and link features.",
        ),
        "_config": attr.label(
            default = Label("//marlin:config"),
            providers = [MarlinConfigInfo],
            doc = "The validated flags.",
        ),
        "_nvcc_stages": attr.label(
            default = Label("//marlin/private/tools:nvcc_stages"),
            executable = True,
            cfg = "exec",
            doc = "Runs nvcc's stages for one file, whole or one arch's share (cuda_compile.bzl).",
        ),
        "_cudart": attr.label(
            default = Label("@local_cuda//:cudart_static"),
            providers = [CcInfo],
            doc = "The CUDA runtime, linked statically into dependents.",
        ),
    },
    fragments = ["cpp"],
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
    incompatible_use_toolchain_transition = True,
)
