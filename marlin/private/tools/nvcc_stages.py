"""Runs nvcc's own compilation stages for one `.cu` file, all of them or one arch's share.

`nvcc --dryrun` prints the stages of a whole-program compile (`-c`, several `-gencode`) as shell
lines: host preprocessing (`gcc -E`) and `cudafe++`, then per virtual arch a device preprocessing
(`gcc -E -D__CUDA_ARCH__=...`), `cicc` (to PTX) and `ptxas` per SASS target, then `fatbinary` and
the host compile (`gcc -c`) that includes cicc's stub, which includes the embedded fat binary.
This tool takes that list for the file's full command and runs

- `--mode=whole`: every stage (one action per file, the same work as one nvcc call);
- `--mode=front`: host preprocessing and cudafe++, writing cudafe++'s host source and the module
  id (nvcc derives the id once, here, from the host preprocessed source; every cicc run reads
  it, so the device code of all archs agrees on it);
- `--mode=device --target=sm_XX|compute_XX --module_id_in=...`: the device preprocessing, cicc
  and (for `sm_XX`) ptxas of one target, writing its cubin or PTX and cicc's stub;
- `--mode=host --cudafe_in=... --device=...`: fatbinary over the device outputs and the host
  compile of the front end's source (which includes the stub), writing the object.

Every mode computes its stages from the same full command, so `__CUDA_ARCH_LIST__`, file names
and options are those of the single nvcc call, and runs nvcc's own lines unchanged, by bash, in
a directory of its own next to the output (`<output>.<target or nvcc>.d`). One edit makes the
outputs independent of where they are built: `--orig_src_path_name` (nvcc's absolute real path
of the source, which seeds the module id) becomes the path as given (`--src`).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

from absl import app
from absl import flags

_NVCC = flags.DEFINE_string("nvcc", None, "Absolute path of nvcc.")
_MODE = flags.DEFINE_enum(
    "mode", "whole", ["whole", "front", "device", "host"], "Which stages to run."
)
_SRC = flags.DEFINE_string("src", None, "The .cu file, as nvcc's command line names it.")
_OUTPUT = flags.DEFINE_string("output", None, "The object (whole, host) this compile is for.")
_TARGET = flags.DEFINE_string("target", None, "For --mode=device: sm_XX or compute_XX.")
_PAYLOAD = flags.DEFINE_string("payload_out", None, "For --mode=device: where the cubin/PTX goes.")
_STUB = flags.DEFINE_string("stub_out", None, "For --mode=device: where cicc's stub goes.")
_MODULE_ID_OUT = flags.DEFINE_string("module_id_out", None, "For --mode=front: the module id.")
_MODULE_ID_IN = flags.DEFINE_string("module_id_in", None, "For --mode=device: the module id.")
_CUDAFE_OUT = flags.DEFINE_string("cudafe_out", None, "For --mode=front: cudafe++'s host source.")
_CUDAFE_IN = flags.DEFINE_string("cudafe_in", None, "For --mode=host: cudafe++'s host source.")
_DEVICE = flags.DEFINE_multi_string(
    "device",
    [],
    "For --mode=host: TARGET=PAYLOAD,STUB, the outputs of one device action.",
)

_ENV_LINE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_ORIG_SRC_PATH = re.compile(r'--orig_src_path_name "[^"]*"')


class StageError(Exception):
    """nvcc's stage list is not what this tool understands, or the inputs do not fit it."""


def parse_dryrun(text):
    """Splits `nvcc --dryrun` output into environment lines and command lines.

    Args:
      text: nvcc's stderr; stage lines start with `#$ `.

    Returns:
      `(env, commands)`: lists of the shell lines without the prefix, in order.
    """
    env, commands = [], []
    for line in text.splitlines():
        if not line.startswith("#$ "):
            continue
        body = line[3:].rstrip()
        if _ENV_LINE.match(body):
            env.append(body)
        elif body:
            commands.append(body)
    return env, commands


def _option(tokens, name):
    """The value after `name` (`-o x`, `--name x`) or in `name=x`, else None."""
    for i, t in enumerate(tokens):
        if t == name and i + 1 < len(tokens):
            return tokens[i + 1]
        if t.startswith(name + "="):
            return t[len(name) + 1 :]
    return None


def classify(command):
    """Names one stage of nvcc's list.

    Returns:
      A dict: `kind` (`host_cpp`, `cudafe`, `device_cpp`, `cicc`, `ptxas`, `fatbinary`,
      `host_cc`, `rm`, or `other`), `tokens` (shlex-split), and per kind `out`, `input`,
      `arch` (`compute_XX` for cicc, `sm_XX` for ptxas).
    """
    tokens = shlex.split(command)
    tool = os.path.basename(tokens[0]) if tokens else ""
    stage = {"kind": "other", "tokens": tokens, "command": command}
    if tool == "rm":
        stage["kind"] = "rm"
    elif tool == "cudafe++":
        stage["kind"] = "cudafe"
    elif tool == "cicc":
        stage.update(kind="cicc", arch=_option(tokens, "-arch"), out=_option(tokens, "-o"))
        stage["input"] = [t for t in tokens if t.endswith(".ii")][-1]
    elif tool == "ptxas":
        stage.update(kind="ptxas", arch=_option(tokens, "-arch"), out=_option(tokens, "-o"))
        stage["input"] = [t for t in tokens if t.endswith(".ptx")][-1]
    elif tool == "fatbinary":
        stage["kind"] = "fatbinary"
        stage["images"] = [
            parse_image(t[len("--image3=") :]) for t in tokens if t.startswith("--image3=")
        ]
    elif tool in ("gcc", "g++", "cc", "c++", "clang", "clang++") or tool.endswith(("gcc", "g++")):
        out = _option(tokens, "-o")
        if "-E" in tokens:
            if [t for t in tokens if t.startswith("-D__CUDA_ARCH__=")]:
                stage.update(kind="device_cpp", out=out)
            else:
                stage.update(kind="host_cpp", out=out)
        elif "-c" in tokens:
            stage.update(kind="host_cc", out=out)
    return stage


def parse_image(spec):
    """`kind=elf,sm=80,file=F` -> `{"kind": "elf", "sm": "80", "file": "F"}`."""
    fields = {}
    for part in spec.split(","):
        key, _, value = part.partition("=")
        fields[key] = value
    return fields


def image_target(image):
    """The `--cuda_archs`-style target of a fatbinary image: `sm_80` (elf) or `compute_89` (ptx)."""
    return ("sm_" if image["kind"] == "elf" else "compute_") + image["sm"]


def virtual_arch(target):
    """`sm_90a` -> `compute_90a`; `compute_89` -> itself."""
    if target.startswith("sm_"):
        return "compute_" + target[len("sm_") :]
    if target.startswith("compute_"):
        return target
    raise StageError(f"not an arch target: '{target}'")


def canonical_source(command, src):
    """Replaces nvcc's `--orig_src_path_name "<absolute real path>"` with `src` (see module doc)."""
    return _ORIG_SRC_PATH.sub(lambda _: "--orig_src_path_name " + shlex.quote(src), command)


def _stages(commands):
    stages = [classify(c) for c in commands if classify(c)["kind"] != "rm"]
    unknown = [s["command"] for s in stages if s["kind"] == "other"]
    if unknown:
        raise StageError("unknown nvcc stage: " + unknown[0])
    return stages


def _one(stages, kind):
    found = [s for s in stages if s["kind"] == kind]
    if len(found) != 1:
        raise StageError(f"expected one {kind} stage, found {len(found)}")
    return found[0]


def front_stages(commands):
    """The host front end: host preprocessing and cudafe++, which also writes the module id.

    Returns:
      `(lines, cudafe_cpp, module_id)`: the shell lines, cudafe++'s host source and the module
      id file (nvcc derives it here, from the host preprocessed source, for every cicc run).
    """
    stages = _stages(commands)
    cudafe = _one(stages, "cudafe")
    if "--gen_module_id_file" not in cudafe["tokens"]:
        raise StageError("cudafe++ does not write the module id: " + cudafe["command"])
    lines = [_one(stages, "host_cpp")["command"], cudafe["command"]]
    return (
        lines,
        _option(cudafe["tokens"], "--gen_c_file_name"),
        _option(cudafe["tokens"], "--module_id_file_name"),
    )


def device_stages(commands, target):
    """The stages that compile `target`'s device code, and what they read and write.

    Args:
      commands: command lines of the full compile (parse_dryrun).
      target: `sm_XX` (cubin) or `compute_XX` (PTX).

    Returns:
      `(lines, payload, stub, module_id)`: the shell lines to run (nvcc's own, unchanged), the
      paths of the cubin or PTX and of cicc's stub, and the module id file cicc reads.
    """
    stages = _stages(commands)
    arch = virtual_arch(target)
    cicc = [s for s in stages if s["kind"] == "cicc" and s["arch"] == arch]
    if len(cicc) != 1:
        raise StageError(f"expected one cicc stage for {arch}, found {len(cicc)}")
    cicc = cicc[0]
    cpp = [s for s in stages if s["kind"] == "device_cpp" and s["out"] == cicc["input"]]
    if len(cpp) != 1:
        raise StageError(f"expected one device preprocessing stage for {arch}, found {len(cpp)}")
    lines = [cpp[0]["command"], cicc["command"]]
    payload = cicc["out"]
    if target.startswith("sm_"):
        ptxas = [
            s
            for s in stages
            if s["kind"] == "ptxas" and s["arch"] == target and s["input"] == cicc["out"]
        ]
        if len(ptxas) != 1:
            raise StageError(f"expected one ptxas stage for {target}, found {len(ptxas)}")
        lines.append(ptxas[0]["command"])
        payload = ptxas[0]["out"]
    return (
        lines,
        payload,
        _option(cicc["tokens"], "--stub_file_name"),
        _option(cicc["tokens"], "--module_id_file_name"),
    )


def host_stages(commands):
    """The host back end: fatbinary and the host compile.

    Returns:
      A dict: `lines` (to run), `cudafe_cpp` (the front end's host source, which the host
      compile reads), `stub` (the path of the stub it includes), `stub_arch` (the virtual arch
      whose cicc wrote it), `images` (fatbinary's `--image3` entries) and `object`.
    """
    stages = _stages(commands)
    cudafe = _one(stages, "cudafe")
    fatbinary = _one(stages, "fatbinary")
    host_cc = _one(stages, "host_cc")
    gen_c = _option(cudafe["tokens"], "--gen_c_file_name")
    stub_name = os.path.basename(_option(cudafe["tokens"], "--stub_file_name"))
    # The host compile includes the stub of one cicc run (the last virtual arch's).
    writers = [
        s["arch"]
        for s in stages
        if s["kind"] == "cicc"
        and os.path.basename(_option(s["tokens"], "--stub_file_name")) == stub_name
    ]
    if len(writers) != 1:
        raise StageError(
            f"expected one cicc stage writing the stub {stub_name}, found {len(writers)}"
        )
    return {
        "lines": [fatbinary["command"], host_cc["command"]],
        "cudafe_cpp": gen_c,
        "stub": os.path.join(os.path.dirname(gen_c), stub_name),
        "stub_arch": writers[0],
        "images": fatbinary["images"],
        "object": host_cc["out"],
    }


def parse_device(spec):
    """`sm_80=P,S` -> `("sm_80", P, S)`: a device action's payload (cubin or PTX) and stub."""
    target, _, files = spec.partition("=")
    parts = files.split(",")
    if not target or len(parts) != 2:
        raise StageError(f"--device: expected TARGET=PAYLOAD,STUB, got '{spec}'")
    return (target, parts[0], parts[1])


def host_inputs(stages, devices, cudafe_cpp):
    """Which front end and device output goes where before the host stages run.

    Args:
      stages: host_stages' result.
      devices: parse_device tuples.
      cudafe_cpp: the front end action's host source.

    Returns:
      A list of `(source, destination)` copies: the host source, every fatbinary image, the stub.
    """
    by_target = {d[0]: d for d in devices}
    if len(by_target) != len(devices):
        raise StageError("--device: a target is given twice")
    copies = [(cudafe_cpp, stages["cudafe_cpp"])]
    used = set()
    for image in stages["images"]:
        target = image_target(image)
        if target not in by_target:
            raise StageError(f"no device output for fatbinary image {target} ({image['file']})")
        copies.append((by_target[target][1], image["file"]))
        used.add(target)
    unused = sorted(set(by_target) - used)
    if unused:
        raise StageError(
            "device outputs for targets this compile does not have: " + ", ".join(unused)
        )
    stub_from = [d for d in devices if virtual_arch(d[0]) == stages["stub_arch"]]
    if not stub_from:
        raise StageError("no device output of {} for the stub".format(stages["stub_arch"]))
    copies.append((stub_from[0][2], stages["stub"]))
    return copies


def work_dir(output, tag):
    """The private directory of one run: `<output>.<tag>.d`."""
    return f"{output}.{tag}.d"


def dryrun(nvcc, nvcc_args, src, object_path):
    """`nvcc --dryrun` of the full compile writing `object_path`; returns (env, commands)."""
    cmd = [nvcc, "--dryrun"] + list(nvcc_args) + ["-objtemp", "-c", src, "-o", object_path]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StageError(f"nvcc --dryrun failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    env, commands = parse_dryrun(proc.stderr)
    return env, [canonical_source(c, src) for c in commands]


def env_exports(env):
    """`export` lines for nvcc's settings of one word (`CICC_PATH=...`, `PATH=...`).

    The lists (`SYSTEM_INCLUDES="-isystem" "..."`, `LIBRARIES=...`) are only nvcc's own
    spelling of what its command lines already contain.
    """
    exports = []
    for line in env:
        name, _, value = line.partition("=")
        words = shlex.split(value)
        if len(words) <= 1:
            exports.append("export {}={}".format(name, shlex.quote(words[0] if words else "")))
    return exports


def run_lines(env, lines):
    """Runs nvcc's environment settings and `lines` in one bash, stopping at the first failure."""
    script = "set -e\n" + "".join(line + "\n" for line in env_exports(env) + lines)
    return subprocess.run(["/bin/bash", "-c", script]).returncode


def _fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def _require(**values):
    for name, value in values.items():
        if not value:
            raise app.UsageError(f"--mode={_MODE.value} needs --{name}")


def main(argv):
    nvcc_args = argv[1:]
    if nvcc_args and nvcc_args[0] == "--":
        nvcc_args = nvcc_args[1:]
    _require(nvcc=_NVCC.value, src=_SRC.value, output=_OUTPUT.value)
    mode = _MODE.value
    # whole, front and host write the same object: one directory name keeps file names equal.
    tag = _TARGET.value if mode == "device" else "nvcc"
    if not tag:
        raise app.UsageError("--mode=device needs --target")
    work = work_dir(_OUTPUT.value, tag)
    _fresh_dir(work)
    object_path = os.path.join(work, os.path.basename(_OUTPUT.value))
    env, commands = dryrun(_NVCC.value, nvcc_args, _SRC.value, object_path)
    try:
        if mode == "whole":
            if run_lines(env, [s["command"] for s in _stages(commands)]):
                return 1
            os.replace(object_path, _OUTPUT.value)
        elif mode == "front":
            _require(cudafe_out=_CUDAFE_OUT.value, module_id_out=_MODULE_ID_OUT.value)
            lines, cudafe_cpp, module_id = front_stages(commands)
            if run_lines(env, lines):
                return 1
            os.replace(cudafe_cpp, _CUDAFE_OUT.value)
            os.replace(module_id, _MODULE_ID_OUT.value)
        elif mode == "device":
            _require(
                payload_out=_PAYLOAD.value, stub_out=_STUB.value, module_id_in=_MODULE_ID_IN.value
            )
            lines, payload, stub, module_id = device_stages(commands, _TARGET.value)
            shutil.copyfile(_MODULE_ID_IN.value, module_id)
            if run_lines(env, lines):
                return 1
            os.replace(payload, _PAYLOAD.value)
            os.replace(stub, _STUB.value)
        else:
            _require(cudafe_in=_CUDAFE_IN.value, device=_DEVICE.value)
            stages = host_stages(commands)
            devices = [parse_device(d) for d in _DEVICE.value]
            for src, dst in host_inputs(stages, devices, _CUDAFE_IN.value):
                shutil.copyfile(src, dst)
            if run_lines(env, stages["lines"]):
                return 1
            os.replace(stages["object"], _OUTPUT.value)
    except StageError as e:
        sys.stderr.write(f"nvcc_stages: {e}\n")
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    flags.mark_flag_as_required("nvcc")
    app.run(main)
