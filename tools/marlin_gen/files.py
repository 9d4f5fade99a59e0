"""Writing generated files: only when their content changed (shared by the generator and
tools/bzl_doc.py), so Bazel and editors see unchanged files untouched."""

import os


def write_if_changed(path: str, content: str) -> bool:
    """Writes `content` to `path` unless it already holds exactly that; True if written.

    Missing parent directories are created; the file is replaced atomically (temp file, rename).
    """
    data = content.encode("utf-8")
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True
