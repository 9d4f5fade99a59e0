"""Generates Marlin kernel files, kernel_selector.h and manifest.json.

Usage:
  python3 tools/generate_kernels.py "7.5,8.0,8.9,9.0" --out_dir=DIR
  bazel run //tools/marlin_gen:generate_kernels -- --archs=sm_80,sm_89 --out_dir=DIR
  python3 tools/generate_kernels.py --update_checked_in     # or: bazel run //:update_generated
"""

import dataclasses
import os
import sys
import time

from absl import app
from absl import flags

from tools.marlin_gen import archs as archs_lib
from tools.marlin_gen import checked_in
from tools.marlin_gen import files as files_lib
from tools.marlin_gen import manifest as manifest_lib
from tools.marlin_gen import plan as plan_lib
from tools.marlin_gen import render
from tools.marlin_gen import schemes as schemes_lib

# What to generate for.
_ARCHS = flags.DEFINE_string(
    "archs",
    None,
    "Comma-separated arch list, upstream form (8.0,8.9+PTX,12.0a) or Bazel form "
    "(sm_80,compute_89). May instead be given as the first positional argument.",
)
_PRESET = flags.DEFINE_enum(
    "preset", "vllm", sorted(schemes_lib.PRESETS), "Scheme preset to generate."
)
_SCHEMES = flags.DEFINE_list(
    "schemes", None, "Schemes of the preset to generate (default: all of the preset)."
)

# Outputs.
_OUT_DIR = flags.DEFINE_string("out_dir", None, "Directory for the generated files.")
_ONLY = flags.DEFINE_list(
    "only",
    None,
    "Write only these outputs: kernel file names (*.cu), kernel_selector.h, manifest.json.",
)
_FROM_MANIFEST = flags.DEFINE_string(
    "from_manifest",
    None,
    "Render kernel_selector.h from this manifest.json instead of planning.",
)
_BZL_PLAN = flags.DEFINE_string(
    "bzl_plan",
    None,
    f"Write the Starlark kernel plan (every possible kernel file) here, e.g. "
    f"{checked_in.BZL_PLAN_PATH}.",
)
_UPDATE_CHECKED_IN = flags.DEFINE_bool(
    "update_checked_in",
    False,
    f"Rewrite every checked-in generated file ({', '.join(checked_in.PATHS)}) in the "
    f"repository ($BUILD_WORKSPACE_DIRECTORY under bazel run, else the checkout holding this "
    f"generator). Same as {checked_in.UPDATE_COMMAND}.",
)
_TIMING = flags.DEFINE_bool("timing", False, "Print how long generation took.")
_QUIET = flags.DEFINE_bool(
    "quiet", False, "Print nothing on success (Bazel actions: no INFO noise per kernel file)."
)

_FIXED_OUTPUTS = (render.SELECTOR_FILE_NAME, manifest_lib.FILE_NAME)


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything the generator needs, resolved from flags; the library never reads flags."""

    out_dir: str | None
    arch_list: str | None
    preset: str
    schemes: tuple | None
    only: tuple | None
    from_manifest: str | None
    bzl_plan: str | None
    update_checked_in: str | None = None  # repository root to rewrite the checked-in files in


def _resolve(path: str | None) -> str | None:
    """Relative paths are relative to the caller's directory, also under `bazel run`."""
    if path is None or os.path.isabs(path):
        return path
    return os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", ""), path)


def _config_from_flags(argv) -> Config:
    """Validates flag combinations (messages name the flags) and builds the Config."""
    positional = argv[1:]
    if len(positional) > 1:
        raise app.UsageError(
            f"Too many positional arguments {positional!r}: expected at most one, the arch list."
        )
    arch_list = _ARCHS.value
    if positional:
        if arch_list is not None:
            raise app.UsageError(
                "Give the arch list either as the first positional argument or as --archs, "
                "not both."
            )
        arch_list = positional[0]
    if _SCHEMES.value is not None and not _SCHEMES.value:
        valid = ", ".join(schemes_lib.PRESETS[_PRESET.value])
        raise app.UsageError(
            f"--schemes is empty; valid schemes of --preset={_PRESET.value}: {valid}"
        )
    for holder in (_OUT_DIR, _FROM_MANIFEST, _BZL_PLAN):
        if holder.value is not None and not holder.value.strip():
            raise app.UsageError(
                f"--{holder.name} is empty; give a path (an empty one would write into, or "
                "read from, the current directory)."
            )
    if _ONLY.value is not None and not _ONLY.value:
        raise app.UsageError(
            "--only is empty; give kernel file names (*.cu), kernel_selector.h or manifest.json."
        )
    if _FROM_MANIFEST.value is not None:
        if arch_list is not None or _SCHEMES.value is not None:
            raise app.UsageError(
                "--from_manifest renders kernel_selector.h from the manifest; do not combine it "
                "with --archs (or a positional arch list) or --schemes."
            )
        if _ONLY.value is not None and list(_ONLY.value) != [render.SELECTOR_FILE_NAME]:
            raise app.UsageError(
                f"--from_manifest writes only {render.SELECTOR_FILE_NAME}; "
                f"--only={','.join(_ONLY.value)} asks for more."
            )
    if _OUT_DIR.value is None:
        if _BZL_PLAN.value is None and not _UPDATE_CHECKED_IN.value:
            raise app.UsageError(
                "--out_dir is required (or give only --bzl_plan=PATH or --update_checked_in)."
            )
        if arch_list is not None or _ONLY.value or _FROM_MANIFEST.value or _SCHEMES.value:
            raise app.UsageError(
                "--out_dir is required with --archs, --schemes, --only or --from_manifest."
            )
    elif arch_list is None and _FROM_MANIFEST.value is None:
        only_cu = _ONLY.value and all(n.endswith(".cu") for n in _ONLY.value)
        if not only_cu:
            raise app.UsageError(
                '--archs (or a positional arch list such as "8.0,8.9") is required, unless '
                "--only names only .cu files or --from_manifest is given."
            )
    return Config(
        out_dir=_resolve(_OUT_DIR.value),
        arch_list=arch_list,
        preset=_PRESET.value,
        schemes=None if _SCHEMES.value is None else tuple(_SCHEMES.value),
        only=None if _ONLY.value is None else tuple(_ONLY.value),
        from_manifest=_resolve(_FROM_MANIFEST.value),
        bzl_plan=_resolve(_BZL_PLAN.value),
        update_checked_in=_repository_root() if _UPDATE_CHECKED_IN.value else None,
    )


def _repository_root() -> str:
    """Where --update_checked_in writes: the workspace of `bazel run`, else this checkout."""
    root = os.environ.get("BUILD_WORKSPACE_DIRECTORY") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    )
    if not os.path.isfile(os.path.join(root, "tools", "marlin_gen", "schemes.py")):
        raise app.UsageError(
            f"--update_checked_in: {root} is not a rules_marlin checkout (no "
            "tools/marlin_gen/schemes.py); run it from the rules_marlin repository."
        )
    return root


def outputs(config: Config) -> dict:
    """Plans and renders; returns {output file name: content}. Raises ValueError on bad input."""
    if config.from_manifest is not None:
        try:
            with open(config.from_manifest, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ValueError(f"--from_manifest: cannot read {config.from_manifest}: {e}") from None
        manifest = manifest_lib.loads(text)
        return {render.SELECTOR_FILE_NAME: render.kernel_selector(manifest)}
    rows = schemes_lib.select(config.preset, config.schemes)
    if config.arch_list is None:
        # Only .cu files were asked for: their content does not depend on the arch list.
        archs, flags_ = (), archs_lib.ALL
    else:
        archs = archs_lib.parse_arch_list(config.arch_list)
        flags_ = archs_lib.compute_flags(archs)
        if not flags_.any:
            raise ValueError(
                f"arch list {config.arch_list!r} enables no Marlin kernel family: the sm75 "
                f"kernels need 7.5 (sm_75), the sm80 and sm89 kernels 8.0 (sm_80) or newer"
            )
    plan = plan_lib.make_plan(config.preset, rows, flags_, archs)
    wanted = _wanted_outputs(config, plan)
    result = {}
    for f in plan.files:
        if f.name in wanted:
            result[f.name] = render.kernel_file(f)
    if wanted & set(_FIXED_OUTPUTS):
        manifest = manifest_lib.from_plan(plan)
        if manifest_lib.FILE_NAME in wanted:
            result[manifest_lib.FILE_NAME] = manifest_lib.dumps(manifest)
        if render.SELECTOR_FILE_NAME in wanted:
            result[render.SELECTOR_FILE_NAME] = render.kernel_selector(manifest)
    return result


def _wanted_outputs(config: Config, plan: plan_lib.Plan) -> set:
    valid = sorted(f.name for f in plan.files)
    if config.arch_list is not None:
        valid += list(_FIXED_OUTPUTS)
    if config.only is None:
        return set(valid)
    unknown = [n for n in config.only if n not in valid]
    if unknown:
        where = f"arch list {config.arch_list!r}" if config.arch_list else "any arch list"
        raise ValueError(
            f"--only names {', '.join(map(repr, unknown))}, not an output for {where} and "
            f"schemes {','.join(plan.schemes)}; valid: {', '.join(valid) or '(none)'}"
        )
    return set(config.only)


def generate(config: Config) -> tuple:
    """Writes the outputs that changed; returns (written, unchanged) counts."""
    written = unchanged = 0
    if config.out_dir is not None:
        for name, content in sorted(outputs(config).items()):
            if files_lib.write_if_changed(os.path.join(config.out_dir, name), content):
                written += 1
            else:
                unchanged += 1
    files = {}
    if config.bzl_plan is not None:
        files[config.bzl_plan] = checked_in.bzl_plan()
    if config.update_checked_in is not None:
        for path, content in checked_in.files().items():
            files[os.path.join(config.update_checked_in, path)] = content
    for path, content in sorted(files.items()):
        if files_lib.write_if_changed(path, content):
            written += 1
        else:
            unchanged += 1
    return written, unchanged


def main(argv):
    config = _config_from_flags(argv)
    start = time.perf_counter()
    try:
        # The table is checked here, not at import, so that a bad row is a message, not a
        # traceback from the import of schemes.py.
        schemes_lib.validate_table()
        written, unchanged = generate(config)
    except (ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    if _TIMING.value:
        print(f"marlin_gen: {time.perf_counter() - start:.3f} s")
    if not _QUIET.value:
        print(f"marlin_gen: {written} file(s) written, {unchanged} unchanged")


def run():
    """Entry point for the shim and the py_binary."""
    app.run(main)


if __name__ == "__main__":
    run()
