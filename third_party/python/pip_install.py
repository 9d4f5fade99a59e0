"""Installs pinned wheels of a lock file into a Bazel repository: the worker of pip_repository.bzl.

Replaces rules_python's `pip_parse` + `whl_library` (not available offline for Bazel 4.2.3).
Run by the repository rule with the interpreter of `@local_python`; standard library only.

    python3 pip_install.py --requirements requirements.txt --out DIR --repo NAME
        [--only torch] [--exclude torch] [--hub marlin_pip] [--alias torch=marlin_pip_torch]
        [--skip torch]

1. Reads the lock: every requirement is `name==version` with at least one `--hash=sha256:...`
   (anything else is an error naming the line).
2. Installs the selected ones with `pip install --no-deps --require-hashes --only-binary=:all:
   --target DIR/site-packages` (pip's own configuration picks the index: none is written here).
3. Compiles every module to `__pycache__` with unchecked-hash pycs (the same bytes on every
   fetch; the repository never changes after it), so tests do not recompile torch each run.
4. Writes DIR/BUILD.bazel: one `py_library` per installed distribution (target name: the
   normalized project name, `absl-py` -> `absl_py`), whose files are its top-level entries in
   RECORD, `imports = ["site-packages"]`, and whose deps are the Requires-Dist names the lock
   pins (the rest: platform/version-gated or extras, not installed).

`--skip` (MARLIN_PIP_SKIP) leaves selected packages uninstalled: their `py_library` is empty, so
tests that import them skip (`pytest.importorskip`), as without torch before.
"""

import argparse
import compileall
import json
import os
import py_compile
import re
import subprocess
import sys

_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)$")
_COMMENT = re.compile(r"(^|\s)#.*$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class LockError(Exception):
    """The lock file is not a fully pinned, hashed list."""


def normalize(name):
    """PEP 503 name -> Bazel target name: `Absl-Py` -> `absl_py`."""
    return re.sub(r"[-_.]+", "_", name).lower()


def parse_lock(text, path="requirements.txt"):
    """Returns `[(name, version, [sha256, ...], line)]` of a lock file, in file order.

    Continuation lines (trailing backslash) are joined; `#` starts a comment. Every
    requirement must be `name==version` and carry a sha256 hash.
    """
    out = []
    logical, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw).rstrip()
        if not logical:
            start = number
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        entry, logical = logical.strip(), ""
        if not entry:
            continue
        parts = entry.split()
        pin = _PIN.match(parts[0])
        if not pin:
            raise LockError(f"{path}:{start}: '{parts[0]}' is not pinned as name==version")
        hashes = _HASH.findall(entry)
        others = [p for p in parts[1:] if not _HASH.fullmatch(p)]
        if others:
            raise LockError("{}:{}: unexpected '{}'".format(path, start, " ".join(others)))
        if not hashes:
            raise LockError(
                f"{path}:{start}: {parts[0]} has no --hash=sha256:... (the lock is installed with "
                "--require-hashes)"
            )
        out.append((pin.group(1), pin.group(2), hashes, entry))
    names = [normalize(n) for n, _, _, _ in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise LockError("{}: pinned twice: {}".format(path, ", ".join(dupes)))
    return out


def select(pins, only=(), exclude=()):
    """The pins whose normalized name is in `only` (when given) and not in `exclude`."""
    only = {normalize(n) for n in only}
    exclude = {normalize(n) for n in exclude}
    known = {normalize(n) for n, _, _, _ in pins}
    missing = sorted((only | exclude) - known)
    if missing:
        raise LockError("not in the lock: {}".format(", ".join(missing)))
    return [
        p for p in pins if (not only or normalize(p[0]) in only) and normalize(p[0]) not in exclude
    ]


def _metadata(dist_info):
    """(name, version, [required names]) of one installed *.dist-info directory."""
    name = version = None
    requires = []
    with open(os.path.join(dist_info, "METADATA"), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                break  # end of the headers
            key, _, value = line.partition(":")
            value = value.strip()
            if key == "Name":
                name = value
            elif key == "Version":
                version = value
            elif key == "Requires-Dist" and "extra ==" not in value and "extra==" not in value:
                m = _NAME.match(value)
                if m:
                    requires.append(m.group(1))
    return name, version, requires


def _top_level(dist_info):
    """Top-level files and directories a distribution installed (from its RECORD)."""
    tops = set()
    with open(os.path.join(dist_info, "RECORD"), encoding="utf-8") as f:
        for line in f:
            path = line.rsplit(",", 2)[0].strip().strip('"')
            first = path.split("/", 1)[0]
            if not first or first in ("..", "bin", "__pycache__"):
                continue
            tops.add(first)
    tops.add(os.path.basename(dist_info))
    return sorted(tops)


def build_file(site, repo, pinned, hub="", aliases=None, python="", skipped=()):
    """BUILD.bazel text for the distributions installed in `site` (a dir of the repository)."""
    aliases = aliases or {}
    dists = []
    for entry in sorted(os.listdir(site)) if os.path.isdir(site) else []:
        if entry.endswith(".dist-info"):
            name, version, requires = _metadata(os.path.join(site, entry))
            dists.append(
                (normalize(name), version, requires, _top_level(os.path.join(site, entry)))
            )
    installed = {d[0] for d in dists}
    lines = [
        "# Generated by @rules_marlin//third_party/python:pip_repository.bzl; do not edit.",
        f"# Repository @{repo}: {len(dists)} distribution(s) installed with {python}.",
        "",
        'package(default_visibility = ["//visibility:public"])',
        "",
    ]
    for name, version, requires, tops in dists:
        globs, py_globs = [], []
        for top in tops:
            base = "site-packages/" + top
            if os.path.isdir(os.path.join(site, top)):  # a package, *.dist-info, numpy.libs
                py_globs.append(base + "/**/*.py")
                globs.append(base + "/**")
            elif top.endswith(".py"):
                py_globs.append(base)
                globs.append("site-packages/__pycache__/{}.*.pyc".format(top[: -len(".py")]))
            else:
                globs.append(base)  # a top-level extension module or data file
        deps = []
        for req in sorted({normalize(r) for r in requires}):
            if req == name:
                continue
            if req in installed:
                deps.append(f'":{req}"')
            elif req in pinned and hub:
                deps.append(f'"@{hub}//:{req}"')
        lines += [
            f"# {name} {version}",
            "py_library(",
            f'    name = "{name}",',
            f"    srcs = glob({json.dumps(py_globs)}),",
            "    data = glob(",
            f"        {json.dumps(globs)},",
            # Bazel labels cannot hold spaces; RECORD is rewritten per install.
            '        exclude = ["**/*.py", "**/* *", "**/RECORD"],',
            "    ),",
            '    imports = ["site-packages"],',
            "    deps = [{}],".format(", ".join(deps)),
            ")",
            "",
        ]
    for name in sorted(normalize(n) for n in skipped):
        lines += [
            f"# {name}: not installed (MARLIN_PIP_SKIP); tests that import it skip.",
            f'py_library(name = "{name}")',
            "",
        ]
    for name, actual in sorted(aliases.items()):
        lines += [
            "alias(",
            f'    name = "{normalize(name)}",',
            f'    actual = "@{actual}//:{normalize(name)}",',
            ")",
            "",
        ]
    return "\n".join(lines)


def _compile(site):
    """Unchecked-hash pycs: deterministic bytes, no mtime checks (the repository is immutable)."""
    ok = compileall.compile_dir(
        site,
        quiet=2,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    # A module that does not compile under this Python (vendored py2 files) is only skipped by
    # Python at import too; compileall's status is not an error here.
    del ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requirements", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--only", default="")
    parser.add_argument("--exclude", default="")
    parser.add_argument("--hub", default="")
    parser.add_argument("--alias", action="append", default=[])
    parser.add_argument("--skip", default="", help="selected packages not to install")
    args = parser.parse_args(argv)

    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    with open(args.requirements, encoding="utf-8") as f:
        try:
            pins = parse_lock(f.read(), args.requirements)
            chosen = select(pins, split(args.only), split(args.exclude))
            skip = {normalize(n) for n in split(args.skip)}
            skipped = [p[0] for p in chosen if normalize(p[0]) in skip]
            chosen = [p for p in chosen if normalize(p[0]) not in skip]
        except LockError as e:
            sys.stderr.write(f"pip_repository @{args.repo}: {e}\n")
            return 1
    site = os.path.join(args.out, "site-packages")
    os.makedirs(site, exist_ok=True)
    if chosen:
        lock = os.path.join(args.out, "requirements.lock.txt")
        with open(lock, "w", encoding="utf-8") as f:
            f.write("".join(entry + "\n" for _, _, _, entry in chosen))
        command = [
            sys.executable, "-m", "pip", "install",
            "--no-deps", "--require-hashes", "--only-binary=:all:", "--no-compile",
            "--disable-pip-version-check", "--no-warn-script-location", "--quiet",
            "--target", site, "-r", lock,
        ]  # fmt: skip
        status = subprocess.call(command)
        if status:
            sys.stderr.write(
                "pip_repository @{}: pip install of {} failed (exit status {}): {}\n".format(
                    args.repo, args.requirements, status, " ".join(command)
                )
            )
            return 1
        _compile(site)
    aliases = dict(a.split("=", 1) for a in args.alias)
    pinned = {normalize(n) for n, _, _, _ in pins}
    python = "Python {}.{}.{} ({})".format(*sys.version_info[:3], sys.executable)
    with open(os.path.join(args.out, "BUILD.bazel"), "w", encoding="utf-8") as f:
        f.write(build_file(site, args.repo, pinned, args.hub, aliases, python, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
