"""plan -> manifest.json (design.md section 4) and back.

The manifest is the build's record of what was generated. Its bytes are deterministic (sorted
keys, 2-space indent, trailing newline); `files` and `instantiations` are in generation order, so
an instantiation's position in `instantiations` is its upstream `selector_index`.
kernel_selector.h is rendered from a manifest (a fresh one or `--from_manifest`), never from a plan.
"""

import json

from tools.marlin_gen import archs as archs_lib
from tools.marlin_gen import plan as plan_lib
from tools.marlin_gen import scalar_types as st

FILE_NAME = "manifest.json"
GENERATOR = "rules_marlin"

_TYPE_FIELDS = ("a_type", "b_type", "c_type", "s_type")
_INT_FIELDS = (
    "index_in_file",
    "threads",
    "thread_m_blocks",
    "thread_n_blocks",
    "thread_k_blocks",
    "stages",
    "group_blocks",
)
_BOOL_FIELDS = ("m_block_size_8", "is_zp_float")
_FLAG_FIELDS = ("sm75", "sm80", "fp8")


def from_plan(plan: plan_lib.Plan) -> dict:
    """The manifest as a JSON-ready dict."""
    files = [
        {
            "name": f.name,
            "family": f.family,
            "schemes": list(f.schemes),
            "num_instantiations": len(f.instantiations),
        }
        for f in plan.files
    ]
    insts = []
    for f, index, inst in plan.instantiations:
        insts.append(
            {
                "file": f.name,
                "index_in_file": index,
                "scheme": inst.scheme,
                "a_type": inst.a_type.name,
                "b_type": inst.b_type.name,
                "c_type": inst.c_type.name,
                "s_type": inst.s_type.name,
                "threads": inst.threads,
                "thread_m_blocks": inst.thread_m_blocks,
                "thread_n_blocks": inst.thread_n_blocks,
                "thread_k_blocks": inst.thread_k_blocks,
                "m_block_size_8": inst.m_block_size_8,
                "stages": inst.stages,
                "group_blocks": inst.group_blocks,
                "is_zp_float": inst.is_zp_float,
            }
        )
    return {
        "generator": GENERATOR,
        "preset": plan.preset,
        "schemes": list(plan.schemes),
        "archs": list(plan.archs),
        "flags": {"sm75": plan.flags.sm75, "sm80": plan.flags.sm80, "fp8": plan.flags.fp8},
        "files": files,
        "instantiations": insts,
    }


def dumps(manifest: dict) -> str:
    """Deterministic text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


class ManifestError(ValueError):
    """A manifest that is not one this generator wrote."""


def _require(obj: dict, key: str, kind, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise ManifestError(f"manifest: {where} lacks key {key!r}")
    value = obj[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ManifestError(f"manifest: {where}.{key} must be {kind.__name__}, got {value!r}")
    return value


def loads(text: str) -> dict:
    """Parses and checks a manifest; ManifestError says which key is missing or wrong."""
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as e:
        raise ManifestError(f"manifest: not valid JSON: {e}") from None
    generator = _require(manifest, "generator", str, "top level")
    if generator != GENERATOR:
        raise ManifestError(f"manifest: generator is {generator!r}, expected {GENERATOR!r}")
    _require(manifest, "preset", str, "top level")
    _require(manifest, "schemes", list, "top level")
    _require(manifest, "files", list, "top level")
    _require(manifest, "instantiations", list, "top level")
    flags(manifest)
    instantiations(manifest)
    return manifest


def flags(manifest: dict) -> archs_lib.Flags:
    """The manifest's arch flags."""
    raw = _require(manifest, "flags", dict, "top level")
    return archs_lib.Flags(**{k: _require(raw, k, bool, "flags") for k in _FLAG_FIELDS})


def instantiations(manifest: dict) -> list:
    """[(file name, index_in_file, Instantiation)] in manifest (= selector) order."""
    out = []
    for n, raw in enumerate(_require(manifest, "instantiations", list, "top level")):
        where = f"instantiations[{n}]"
        try:
            types = {k: st.from_name(_require(raw, k, str, where)) for k in _TYPE_FIELDS}
        except ValueError as e:
            raise ManifestError(f"manifest: {where}: {e}") from None
        ints = {k: _require(raw, k, int, where) for k in _INT_FIELDS}
        bools = {k: _require(raw, k, bool, where) for k in _BOOL_FIELDS}
        index = ints.pop("index_in_file")
        inst = plan_lib.Instantiation(
            scheme=_require(raw, "scheme", str, where), **types, **ints, **bools
        )
        out.append((_require(raw, "file", str, where), index, inst))
    return out
