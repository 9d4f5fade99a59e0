"""Action builders: nvcc's stages for one `.cu` file, as one action or one per target arch.

Both modes run `//marlin/private/tools:nvcc_stages`, which takes the stage list of the file's one
nvcc command (`nvcc --dryrun`, every `-gencode` of the file) and runs all of it or a share:

- `per_file`: one `CudaCompile` action runs every stage (what one nvcc call does);
- `per_arch`: one `CudaHostFrontend` action (host preprocessing and cudafe++, which writes the
  module id every cicc run reads), then one `CudaDeviceCompile` action per target arch (device
  preprocessing, cicc, and ptxas for `sm_XX`: a cubin, or PTX for `compute_XX`), then one
  `CudaHostCompile` action (fatbinary over those cubins and PTX, host compile into the object).
  A file's archs compile in parallel; the object is the same as `per_file`'s.
"""

load("//marlin/private:flags.bzl", "DEVICE_ACTIONS")

def gencode_target(gencode):
    """The target arch of one `-gencode` value.

    Args:
      gencode: `arch=compute_80,code=sm_80` (SASS) or `arch=compute_89,code=compute_89` (PTX).

    Returns:
      The `code=` value: `sm_80`, `compute_89`.
    """
    for part in gencode.split(","):
        if part.startswith("code="):
            return part[len("code="):]
    fail("gencode without code=: '{}'".format(gencode))

def _nvcc_options(ctx, cuda_version, ccbin, gencode, defines, quote_includes, includes, system_includes, copts):
    """nvcc's options for the file (everything but `-c`, `-o` and `-objtemp`, which the tool adds)."""
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
    args.add_all(gencode, format_each = "-gencode=%s")
    args.add_all(defines, format_each = "-D%s")
    args.add_all(quote_includes, format_each = "-I%s", uniquify = True)
    args.add_all(includes, format_each = "-I%s", uniquify = True)
    args.add_all(system_includes, before_each = "-isystem", uniquify = True)
    args.add_all(copts)
    return args

def cuda_compile_action(
        ctx,
        *,
        src,
        output,
        nvcc,
        nvcc_stages,
        cuda_path,
        cuda_version,
        ccbin,
        gencode,
        inputs,
        device_actions = "per_arch",
        defines = [],
        quote_includes = [],
        includes = [],
        system_includes = [],
        copts = []):
    """Registers the actions compiling `src` into `output` (whole-program mode, PIC, one object).

    nvcc runs by absolute path: it finds cicc, nvvm/ and its own headers relative to itself, which
    a sandbox symlink to bin/nvcc would hide. Intermediate files go to a directory next to the
    output (nvcc's `-objtemp` naming inside it), never /tmp, where parallel sandboxed actions
    with equal PIDs could collide.

    Args:
      ctx: the rule context.
      src: the `.cu` File.
      output: the object File to write.
      nvcc: absolute path of nvcc.
      nvcc_stages: the `nvcc_stages` tool (executable File).
      cuda_path: the toolkit root (its bin/ goes first on the action's PATH).
      cuda_version: `(major, minor)` of the toolkit.
      ccbin: the host compiler (from the C++ toolchain).
      gencode: `-gencode` values (`arch=compute_80,code=sm_80`), see arch_rules.bzl.
      inputs: depset of every header the compile may read (srcs, hdrs, deps' headers).
      device_actions: `per_arch` (a host front end action, one device action per gencode, then
        a host action) or `per_file` (one action), from `--cuda_device_actions`.
      defines: preprocessor defines (without -D).
      quote_includes: `-I` directories searched first (workspace roots, bin dirs).
      includes: `-I` directories.
      system_includes: `-isystem` directories.
      copts: extra nvcc options, appended last.

    Returns:
      The device-code Files of `per_arch` (cubins and PTX, one per gencode), else `[]`.
    """
    if device_actions not in DEVICE_ACTIONS:
        fail("device_actions: '{}' is none of {}".format(device_actions, ", ".join(DEVICE_ACTIONS)))
    options = _nvcc_options(ctx, cuda_version, ccbin, gencode, defines, quote_includes, includes, system_includes, copts)
    env = {"PATH": cuda_path + "/bin:/usr/bin:/bin"}
    common = ["--nvcc=" + nvcc, "--src=" + src.path, "--output=" + output.path]
    all_inputs = depset([src], transitive = [inputs])
    if device_actions == "per_file":
        ctx.actions.run(
            executable = nvcc_stages,
            arguments = [ctx.actions.args().add_all(common + ["--mode=whole", "--"]), options],
            inputs = all_inputs,
            outputs = [output],
            env = env,
            mnemonic = "CudaCompile",
            progress_message = "Compiling {}".format(src.short_path),
        )
        return []

    prefix = output.basename
    cudafe_cpp = ctx.actions.declare_file(prefix + ".cudafe1.cpp", sibling = output)
    module_id = ctx.actions.declare_file(prefix + ".module_id", sibling = output)
    ctx.actions.run(
        executable = nvcc_stages,
        arguments = [
            ctx.actions.args().add_all(common + [
                "--mode=front",
                "--cudafe_out=" + cudafe_cpp.path,
                "--module_id_out=" + module_id.path,
                "--",
            ]),
            options,
        ],
        inputs = all_inputs,
        outputs = [cudafe_cpp, module_id],
        env = env,
        mnemonic = "CudaHostFrontend",
        progress_message = "Compiling {} (host front end)".format(src.short_path),
    )
    device_specs = []
    payloads = []
    device_outputs = []
    for g in gencode:
        target = gencode_target(g)
        payload = ctx.actions.declare_file(
            "{}.{}.{}".format(prefix, target, "cubin" if target.startswith("sm_") else "ptx"),
            sibling = output,
        )
        stub = ctx.actions.declare_file("{}.{}.stub.c".format(prefix, target), sibling = output)
        ctx.actions.run(
            executable = nvcc_stages,
            arguments = [
                ctx.actions.args().add_all(common + [
                    "--mode=device",
                    "--target=" + target,
                    "--module_id_in=" + module_id.path,
                    "--payload_out=" + payload.path,
                    "--stub_out=" + stub.path,
                    "--",
                ]),
                options,
            ],
            inputs = depset([module_id], transitive = [all_inputs]),
            outputs = [payload, stub],
            env = env,
            mnemonic = "CudaDeviceCompile",
            progress_message = "Compiling {} ({})".format(src.short_path, target),
        )
        device_specs.append("--device={}={},{}".format(target, payload.path, stub.path))
        payloads.append(payload)
        device_outputs += [payload, stub]
    ctx.actions.run(
        executable = nvcc_stages,
        arguments = [
            ctx.actions.args().add_all(common + ["--mode=host", "--cudafe_in=" + cudafe_cpp.path] + device_specs + ["--"]),
            options,
        ],
        inputs = depset([cudafe_cpp] + device_outputs, transitive = [all_inputs]),
        outputs = [output],
        env = env,
        mnemonic = "CudaHostCompile",
        progress_message = "Compiling {} (host code, fat binary of {})".format(
            src.short_path,
            ", ".join([gencode_target(g) for g in gencode]),
        ),
    )
    return payloads
