"""Finds and removes corrupt entries of the Bazel disk cache that .bazelrc turns on (issue 8).

Bazel 4.2.3 trusts its disk cache: a truncated action-cache entry (a 0-byte file, left by a
killed build or a full disk) makes every later build of that action fail with "output ... was
not created", and nothing in the message names the cache. This tool checks the cache:

  - ac/XX/HASH: an action result; an empty file is corrupt (a real result names its outputs);
  - cas/XX/HASH: content addressed by its sha256; a file whose content does not hash to its name
    is corrupt (empty files always checked, every file with --verify_cas).

    python3 tools/doctor.py [--disk_cache=DIR] [--fix] [--verify_cas]
    bazel run //tools:doctor -- --fix

Without --fix it lists what it found and exits 1 when something is corrupt; with --fix it
removes those entries (Bazel rebuilds them) and exits 0. Standard library only: it has to run
when Bazel itself cannot build anything.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

DEFAULT_CACHE = "~/.cache/rules_marlin/disk_cache"  # .bazelrc's --disk_cache
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entry_problem(kind: str, path: str, verify_cas: bool) -> str | None:
    """Why the cache entry at `path` (kind "ac" or "cas") is corrupt, or None."""
    size = os.path.getsize(path)
    name = os.path.basename(path)
    if kind == "ac":
        return "empty action result" if size == 0 else None
    if size == 0:
        return None if name == EMPTY_SHA256 else "empty file under a non-empty digest"
    if verify_cas and sha256_of(path) != name:
        return "content does not match its sha256 name"
    return None


def find_corrupt(cache_dir: str, verify_cas: bool = False) -> list[tuple[str, str]]:
    """(path, reason) of every corrupt entry under cache_dir's ac/ and cas/, sorted."""
    found = []
    for kind in ("ac", "cas"):
        root = os.path.join(cache_dir, kind)
        for parent, _, names in os.walk(root):
            for name in names:
                if name.endswith(".tmp") or "-" in name:
                    continue  # Bazel's own in-flight temporaries
                path = os.path.join(parent, name)
                reason = entry_problem(kind, path, verify_cas)
                if reason:
                    found.append((path, reason))
    return sorted(found)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--disk_cache", default=DEFAULT_CACHE, help="the cache directory")
    p.add_argument("--fix", action="store_true", help="remove the corrupt entries")
    p.add_argument("--verify_cas", action="store_true", help="hash every CAS entry")
    args = p.parse_args(argv)
    cache_dir = os.path.expanduser(args.disk_cache)
    if not os.path.isdir(cache_dir):
        print(f"doctor: no disk cache at {cache_dir}: nothing to check")
        return 0
    corrupt = find_corrupt(cache_dir, args.verify_cas)
    for path, reason in corrupt:
        print(f"doctor: {'removed' if args.fix else 'corrupt'}: {path} ({reason})")
        if args.fix:
            os.remove(path)
    if not corrupt:
        print(f"doctor: disk cache {cache_dir}: no corrupt entries")
        return 0
    if args.fix:
        print(f"doctor: removed {len(corrupt)} corrupt entries; Bazel rebuilds them")
        return 0
    print(f"doctor: {len(corrupt)} corrupt entries; run again with --fix to remove them")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
