"""Assembles a CUDA toolkit from pinned NVIDIA wheels: the worker of hermetic_cuda.bzl.

    python3 cuda_wheels.py --pins pins.json --out DIR

1. `pip download --no-deps --only-binary=:all:` of every pin (pip's configured index; no
   address here), into DIR/_wheels;
2. checks each pinned file's sha256 (`verify`): a missing wheel or a different digest stops
   everything, naming the wheel, before anything is unpacked;
3. unpacks their `nvidia/cu13/` trees into DIR as a toolkit laid out like /usr/local/cuda:
   `bin/` (nvcc, ptxas, fatbinary, nvlink, cudafe++), `nvvm/` (cicc, libdevice),
   `targets/x86_64-linux/{include,lib}` (what nvcc.profile reads) and `include`, `lib`
   symlinks to those; two wheels writing the same path with different bytes is an error;
4. runs the unpacked `bin/nvcc --version` and writes DIR/toolkit.json (version, wheels).

Standard library only: it runs with the machine's python3 before any Python repository exists.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

TARGET_DIR = "targets/x86_64-linux"


class WheelError(Exception):
    """A pinned wheel is missing, differs from its pin or does not unpack into a toolkit."""


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(pins, digests, source="third_party/cuda/wheels.bzl"):
    """Checks downloaded wheels against their pins; pure (no I/O).

    Args:
      pins: `[{"name", "version", "file", "sha256"}]`.
      digests: wheel file name -> sha256 of what was downloaded (missing: not downloaded).
      source: where the pins live, for the message.

    Returns:
      The list of error lines, one per wheel that is missing or differs; empty when all match.
    """
    errors = []
    for pin in pins:
        got = digests.get(pin["file"])
        if got is None:
            errors.append(
                "{} ({}=={}): not downloaded; pip fetched: {}".format(
                    pin["file"],
                    pin["name"],
                    pin["version"],
                    ", ".join(sorted(digests)) or "nothing",
                )
            )
        elif got != pin["sha256"]:
            errors.append(
                "{} ({}=={}): sha256 {} does not match the pin {} in {}".format(
                    pin["file"], pin["name"], pin["version"], got, pin["sha256"], source
                )
            )
    return errors


def download(pins, dest):
    os.makedirs(dest, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--quiet",
        "--dest", dest,
    ] + ["{}=={}".format(p["name"], p["version"]) for p in pins]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise WheelError(
            "pip download failed (exit status {}): {}\n{}".format(
                result.returncode, " ".join(command), result.stderr.strip()
            )
        )


def unpack(wheel, out, owners):
    """Unpacks the `nvidia/cu*/` tree of one wheel into `out`, keeping the mode bits."""
    name = os.path.basename(wheel)
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            m = re.match(r"^nvidia/cu\d+/(.+)$", info.filename)
            if not m or info.is_dir() or m.group(1).startswith(".metadata/"):
                continue
            rel = m.group(1)
            top = rel.split("/", 1)[0]
            if top in ("include", "lib"):
                rel = TARGET_DIR + "/" + rel
            data = z.read(info)
            path = os.path.join(out, rel)
            if rel in owners:
                with open(path, "rb") as f:
                    if f.read() != data:
                        raise WheelError(
                            f"{owners[rel]} and {name} both ship {rel} with different contents"
                        )
                continue
            owners[rel] = name
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(path, 0o755 if mode & 0o111 else 0o644)


def assemble(pins, out, wheel_dir):
    digests = {}
    for f in sorted(os.listdir(wheel_dir)):
        if f.endswith(".whl"):
            digests[f] = sha256_of(os.path.join(wheel_dir, f))
    errors = verify(pins, digests)
    if errors:
        raise WheelError("pinned CUDA wheel check failed:\n  " + "\n  ".join(errors))
    owners = {}
    for pin in pins:
        unpack(os.path.join(wheel_dir, pin["file"]), out, owners)
    for link in ("include", "lib"):
        os.symlink(TARGET_DIR + "/" + link, os.path.join(out, link))
    nvcc = os.path.join(out, "bin", "nvcc")
    if not os.path.isfile(nvcc):
        raise WheelError("no bin/nvcc in the wheels: " + ", ".join(p["file"] for p in pins))
    result = subprocess.run([nvcc, "--version"], capture_output=True, text=True)
    m = re.search(r"release (\d+)\.(\d+), V([\d.]+)", result.stdout)
    if result.returncode or not m:
        raise WheelError(
            f"{nvcc} --version failed (exit status {result.returncode}): "
            + (result.stdout + result.stderr).strip()
        )
    info = {
        "version": f"{m.group(1)}.{m.group(2)}",
        "nvcc": m.group(3),
        "wheels": ["{}=={}".format(p["name"], p["version"]) for p in pins],
    }
    with open(os.path.join(out, "toolkit.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pins", required=True, help="JSON list of {name, version, file, sha256}")
    parser.add_argument("--out", required=True)
    parser.add_argument("--wheel_dir", help="use the wheels here instead of pip download (tests)")
    args = parser.parse_args(argv)
    with open(args.pins, encoding="utf-8") as f:
        pins = json.load(f)
    wheel_dir = args.wheel_dir or os.path.join(args.out, "_wheels")
    try:
        if not args.wheel_dir:
            download(pins, wheel_dir)
        info = assemble(pins, args.out, wheel_dir)
    except WheelError as e:
        sys.stderr.write(f"hermetic CUDA: {e}\n")
        return 1
    finally:
        if not args.wheel_dir:
            shutil.rmtree(wheel_dir, ignore_errors=True)
    print(json.dumps(info, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
