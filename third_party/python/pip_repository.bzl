"""Replaces rules_python's `pip_parse`: pinned Python packages as external repositories.

`requirements.txt` is a lock (every package `name==version` with `--hash=sha256:...`, the
dependencies included). `pip_repository` installs the part of it it is given, with the
interpreter of `@local_python` (same detection: `$PYTHON_BIN_PATH`, then `python3` on `PATH`):

    python3 -m pip install --no-deps --require-hashes --only-binary=:all: --target site-packages

pip's own configuration (`pip config list`: index, find-links) says where the wheels come from;
no index address is written in this repository. The worker, `pip_install.py`, then compiles the
modules (unchecked-hash pycs) and writes one `py_library` per distribution, named like
rules_python's (`@marlin_pip//:jinja2`, `@marlin_pip//:absl_py`), each with
`imports = ["site-packages"]` and its Requires-Dist as deps. A py target that needs a package
depends on it; nothing comes from the interpreter's site-packages (`@local_python` runs Python
with `-S`), so a missing dependency fails the target instead of passing on one machine only.

`--repo_env=MARLIN_PIP_SKIP=torch` (comma-separated names) installs those packages nowhere: their
targets are empty `py_library`s and the tests that import them skip, for a machine whose pip
index has no such wheel (the CPU torch build comes from this machine's configured find-links).

A heavy package can get its own repository (`marlin_pip_repositories(separate = ...)`): it is
fetched only when a target that depends on it is built. The hub repository aliases it, so users
write `@marlin_pip//:torch` either way.
"""

load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")
load("//third_party/python:local_python.bzl", "find_python")

_DOC = "Installs the selected pins of a hashed requirements lock into this repository (see the module docstring)."

_ATTRS = {
    "aliases": attr.string_dict(
        doc = "Package name -> repository that holds it: an `alias` here for each.",
    ),
    "exclude": attr.string_list(
        doc = "Packages of the lock not to install here.",
    ),
    "hub": attr.string(
        doc = "Repository holding the rest of the lock: dependencies not installed here point there.",
    ),
    "only": attr.string_list(
        doc = "Install only these packages of the lock (default: all but `exclude`).",
    ),
    "requirements": attr.label(
        allow_single_file = True,
        mandatory = True,
        doc = "The lock file (`requirements.txt`).",
    ),
    "_worker": attr.label(
        default = Label("//third_party/python:pip_install.py"),
        allow_single_file = True,
    ),
}

def _pip_repository_impl(rctx):
    python = find_python(rctx)
    args = [
        python,
        str(rctx.path(rctx.attr._worker)),
        "--requirements",
        str(rctx.path(rctx.attr.requirements)),
        "--out",
        str(rctx.path(".")),
        "--repo",
        rctx.name,
        "--only",
        ",".join(rctx.attr.only),
        "--exclude",
        ",".join(rctx.attr.exclude),
        "--hub",
        rctx.attr.hub,
    ]
    skip = rctx.os.environ.get("MARLIN_PIP_SKIP", "")
    if skip:
        args += ["--skip", skip]
    for name, repo in sorted(rctx.attr.aliases.items()):
        args += ["--alias", "{}={}".format(name, repo)]
    rctx.report_progress("pip install of {} ({})".format(rctx.attr.requirements.name, ", ".join(rctx.attr.only) or "all but " + ", ".join(rctx.attr.exclude)))
    result = rctx.execute(args, timeout = 1800, quiet = True)
    if result.return_code != 0:
        fail("pip_repository @{} failed (exit status {}):\n{}{}".format(
            rctx.name,
            result.return_code,
            result.stdout,
            result.stderr,
        ))
    rctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(rctx.name))

pip_repository = repository_rule(
    implementation = _pip_repository_impl,
    doc = _DOC,
    attrs = _ATTRS,
    environ = ["MARLIN_PIP_SKIP", "PYTHON_BIN_PATH", "PATH"],
)

def marlin_pip_repositories(name, requirements, separate = []):
    """The hub `@<name>` with the lock minus `separate`, and `@<name>_<pkg>` for each of those.

    Each is defined with `maybe()`: a definition earlier in the WORKSPACE wins.

    Args:
      name: the hub repository (`@marlin_pip`).
      requirements: label of the lock file.
      separate: packages that get a repository of their own, fetched only when needed.
    """
    repos = {pkg: "{}_{}".format(name, pkg.replace("-", "_").lower()) for pkg in separate}
    maybe(
        pip_repository,
        name = name,
        requirements = requirements,
        exclude = separate,
        aliases = repos,
    )
    for pkg, repo in repos.items():
        maybe(
            pip_repository,
            name = repo,
            requirements = requirements,
            only = [pkg],
            hub = name,
        )
