"""Assembles the marlin wheel: the Python package with libmarlin.so inside, platform-tagged.

    python3 tools/build_wheel.py --out marlin-0.2.0-py3-none-linux_x86_64.whl \\
        --version 0.2.0 --library libmarlin.so --archs sm_80 --schemes gptq_int4 \\
        python/marlin/__init__.py ...

Run by the `marlin_wheel` rule (marlin/private/rules/marlin_wheel.bzl). The wheel is a zip with
the package files, `marlin/libmarlin.so` (where marlin._lib looks first, next to the package),
`marlin/_build_info.json` (the archs and schemes the library was built for) and the dist-info
METADATA / WHEEL / RECORD of the wheel format (PEP 427), sha256 digests in RECORD.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import zipfile

# Fixed timestamps: the same inputs give the same wheel bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def wheel_name(version: str, platform: str) -> str:
    return f"marlin-{version}-py3-none-{platform}.whl"


def record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def dist_info(version: str, platform: str, archs: list[str], schemes: list[str]) -> dict:
    info = f"marlin-{version}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            "Name: marlin",
            f"Version: {version}",
            "Summary: rules_marlin: Marlin-family mixed-precision GEMM kernels (ctypes over "
            "libmarlin.so)",
            "Requires-Python: >=3.10",
            f"Keywords: cuda_archs={','.join(archs)} schemes={','.join(schemes)}",
            "",
        ]
    )
    wheel = "\n".join(
        [
            "Wheel-Version: 1.0",
            "Generator: rules_marlin tools/build_wheel.py",
            "Root-Is-Purelib: false",
            f"Tag: py3-none-{platform}",
            "",
        ]
    )
    return {
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": wheel.encode(),
        f"{info}/top_level.txt": b"marlin\n",
    }


def _package_path(src: str) -> str:
    """The archive path of a package source: from its last `marlin` folder on
    (python/marlin/_generated/scheme_table.py -> marlin/_generated/scheme_table.py)."""
    parts = src.replace(os.sep, "/").split("/")
    if "marlin" not in parts[:-1] or not src.endswith(".py"):
        raise ValueError(f"{src}: package sources must be marlin/**/*.py")
    last = len(parts) - 2 - parts[-2::-1].index("marlin")
    return "/".join(parts[last:])


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def build(out, version, platform, library, archs, schemes, sources) -> list[str]:
    """Writes the wheel; returns the archive paths in order."""
    files: dict[str, bytes] = {}
    for src in sources:
        files[_package_path(src)] = _read(src)
    with open(library, "rb") as f:
        files["marlin/libmarlin.so"] = f.read()
    build_info = {"cuda_archs": archs, "schemes": schemes, "version": version}
    files["marlin/_build_info.json"] = (json.dumps(build_info, indent=1) + "\n").encode()
    files.update(dist_info(version, platform, archs, schemes))
    info = f"marlin-{version}.dist-info"
    record = [record_line(p, files[p]) for p in sorted(files)] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    order = sorted(p for p in files if not p.startswith(info)) + sorted(
        p for p in files if p.startswith(info)
    )
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in order:
            entry = zipfile.ZipInfo(path, _EPOCH)
            entry.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(entry, files[path])
    return order


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--platform", default="linux_x86_64")
    p.add_argument("--library", required=True)
    p.add_argument("--archs", required=True, help="comma-separated --cuda_archs of the build")
    p.add_argument("--schemes", required=True, help="comma-separated schemes of the build")
    p.add_argument("sources", nargs="+")
    args = p.parse_args(argv)
    expected = wheel_name(args.version, args.platform)
    if os.path.basename(args.out) != expected:
        p.error(f"--out must be named {expected} (the wheel format's file name)")
    build(
        args.out,
        args.version,
        args.platform,
        args.library,
        args.archs.split(","),
        args.schemes.split(","),
        args.sources,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
