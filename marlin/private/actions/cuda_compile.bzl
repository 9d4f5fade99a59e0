"""Action builder: one nvcc `CudaCompile` action per `.cu` file."""

def cuda_compile_action(
        ctx,
        *,
        src,
        output,
        nvcc,
        cuda_path,
        cuda_version,
        ccbin,
        gencode,
        inputs,
        defines = [],
        quote_includes = [],
        includes = [],
        system_includes = [],
        copts = []):
    """Registers `nvcc -c src -o output` (whole-program mode, PIC, one object).

    nvcc runs by absolute path: it finds cicc, nvvm/ and its own headers relative to itself, which
    a sandbox symlink to bin/nvcc would hide. `-objtemp` keeps nvcc's intermediate files next to
    the object instead of /tmp, where parallel sandboxed actions with equal PIDs could collide.

    Args:
      ctx: the rule context.
      src: the `.cu` File.
      output: the object File to write.
      nvcc: absolute path of nvcc.
      cuda_path: the toolkit root (its bin/ goes first on the action's PATH).
      cuda_version: `(major, minor)` of the toolkit.
      ccbin: the host compiler (from the C++ toolchain).
      gencode: `-gencode` values (`arch=compute_80,code=sm_80`), see arch_rules.bzl.
      inputs: depset of every header the compile may read (srcs, hdrs, deps' headers).
      defines: preprocessor defines (without -D).
      quote_includes: `-I` directories searched first (workspace roots, bin dirs).
      includes: `-I` directories.
      system_includes: `-isystem` directories.
      copts: extra nvcc options, appended last.
    """
    args = ctx.actions.args()
    args.add("-x", "cu")
    args.add("-std=c++17")
    args.add("-O3")
    if tuple(cuda_version) >= (12, 8):
        # CUDA 12.8 made host stubs of __global__ templates static; the selector table takes
        # their addresses from other translation units.
        args.add("-static-global-template-stub=false")
    args.add("--expt-relaxed-constexpr")
    args.add_all(["-Xcompiler", "-fPIC"])
    args.add("-ccbin", ccbin)
    args.add("-objtemp")
    args.add_all(gencode, format_each = "-gencode=%s")
    args.add_all(defines, format_each = "-D%s")
    args.add_all(quote_includes, format_each = "-I%s", uniquify = True)
    args.add_all(includes, format_each = "-I%s", uniquify = True)
    args.add_all(system_includes, before_each = "-isystem", uniquify = True)
    args.add_all(copts)
    args.add("-c", src)
    args.add("-o", output)
    ctx.actions.run(
        executable = nvcc,
        arguments = [args],
        inputs = depset([src], transitive = [inputs]),
        outputs = [output],
        env = {"PATH": cuda_path + "/bin:/usr/bin:/bin"},
        mnemonic = "CudaCompile",
        progress_message = "Compiling {}".format(src.short_path),
    )
