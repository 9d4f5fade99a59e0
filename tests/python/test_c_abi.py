"""The ctypes mirror of the C ABI (marlin._lib) matches design.md section 10 and c_api.h.

The struct field order and types are parsed from the C declarations (the design doc's block and
marlin/include/marlin/c_api.h, both data dependencies of this test: a missing one fails it);
offsetof/sizeof from the real header, compiled with cc, are compared with ctypes' layout too
(cc is required under Bazel, optional outside).
"""

import ctypes
import os
import re
import shutil
import subprocess

import pytest

from marlin import _lib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DESIGN = os.path.join(ROOT, "docs", "design.md")
HEADER = os.path.join(ROOT, "marlin", "include", "marlin", "c_api.h")
STRUCTS = {
    "marlin_gemm_args": _lib.GemmArgs,
    "marlin_code_source": _lib.CodeSource,
    "marlin_exec_override": _lib.ExecOverride,
}

# ctypes.c_int is ctypes.c_int32 (and c_int64 is c_long) on LP64: compare C types after
# normalising `int` to `int32_t`.
_CTYPE_NAMES = {
    ctypes.c_uint32: "uint32_t",
    ctypes.c_int32: "int32_t",
    ctypes.c_int64: "int64_t",
    ctypes.c_char_p: "char*",
}
_C_ALIASES = {"int": "int32_t", "int*": "int32_t*"}


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)  # preprocessor lines
    return re.sub(r"\bMARLIN_API\b", " ", text)


def _declarator(decl: str):
    """'const int32_t* g_idx' -> ('int32_t*', 'g_idx'); array parameters become pointers."""
    decl = " ".join(decl.replace("*", " * ").split())
    m = re.match(r"^(?P<type>(?:const |struct |unsigned )*[A-Za-z_]\w*)(?P<rest>.*)$", decl)
    assert m, decl
    base = m.group("type").replace("const ", "").replace("struct ", "").strip()
    rest = m.group("rest").strip()
    stars = rest.count("*")
    name_m = re.search(r"([A-Za-z_]\w*)\s*(\[[^\]]*\])?$", rest)
    name = name_m.group(1) if name_m else ""
    if name_m and name_m.group(2):
        stars += 1
    ctype = base + "*" * stars
    return _C_ALIASES.get(ctype, ctype), name


def parse_struct(text: str, name: str):
    m = re.search(
        rf"typedef\s+struct\s+{name}\s*\{{(?P<body>.*?)\}}\s*{name}\s*;", text, flags=re.S
    )
    if not m:
        return None
    fields = []
    for decl in _strip_comments(m.group("body")).split(";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        first, *more = decl.split(",")
        ctype, fname = _declarator(first)
        fields.append((fname, ctype))
        base = ctype.rstrip("*")
        for d in more:
            d = d.strip()
            stars = d.count("*")
            ctype = base + "*" * stars
            fields.append((d.replace("*", "").strip(), _C_ALIASES.get(ctype, ctype)))
    return fields


def parse_functions(text: str):
    """{name: (return type, [param types])} of every marlin_* prototype."""
    text = _strip_comments(text)
    out = {}
    for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(marlin_\w+)\s*\(([^()]*)\)\s*;", text):
        ret = _declarator(m.group(1).strip() + " x")[0]
        params = [p.strip() for p in m.group(3).split(",") if p.strip()]
        if params == ["void"]:
            params = []
        out[m.group(2)] = (ret, [_declarator(p)[0] for p in params])
    return out


def ctypes_fields(cls):
    out = []
    for fname, ftype in cls._fields_:
        if ftype is ctypes.c_void_p:
            out.append((fname, _lib.POINTER_FIELD_TYPES.get(fname, "void") + "*"))
        else:
            out.append((fname, _CTYPE_NAMES[ftype]))
    return out


def _design_section_10() -> str:
    with open(DESIGN) as f:
        text = f.read()
    start = text.index("## 10.")
    return text[start:]


def _read_header() -> str:
    with open(HEADER) as f:
        return f.read()


def _sources():
    for path in (DESIGN, HEADER):
        if not os.path.exists(path):
            pytest.fail(
                f"{path} is missing: it is a data dependency of this test "
                "(tests/python/BUILD.bazel), so the ABI cannot be compared"
            )
    return [("design.md", _design_section_10), ("c_api.h", _read_header)]


@pytest.mark.parametrize("struct", sorted(STRUCTS))
@pytest.mark.parametrize("source", ["design.md", "c_api.h"])
def test_struct_fields_match(source, struct):
    srcs = dict(_sources())
    fields = parse_struct(srcs[source](), struct)
    assert fields is not None, f"{struct} not found in {source}"
    assert fields == ctypes_fields(STRUCTS[struct])


def _ctype_name(t) -> str:
    if t is None:
        return "void"
    if t is ctypes.c_void_p:
        return "void*"
    if t in _CTYPE_NAMES:
        return _CTYPE_NAMES[t]
    if hasattr(t, "_type_"):  # POINTER(x)
        inner = t._type_
        if inner in STRUCTS.values():
            name = [k for k, v in STRUCTS.items() if v is inner][0]
            return name + "*"
        return _CTYPE_NAMES.get(inner, str(inner)) + "*"
    return str(t)


def _compatible(c_type: str, py_type: str) -> bool:
    if c_type == py_type:
        return True
    return c_type.endswith("*") and py_type == "void*"  # typed pointers passed as c_void_p


@pytest.mark.parametrize("source", ["design.md", "c_api.h"])
def test_function_signatures_match(source):
    srcs = dict(_sources())
    protos = parse_functions(srcs[source]())
    for name, (restype, argtypes) in _lib._SIGNATURES.items():
        assert name in protos, f"{name} is not declared in {source}"
        ret, params = protos[name]
        assert _compatible(ret, _ctype_name(restype)), (name, ret, restype)
        assert len(params) == len(argtypes), (name, params, argtypes)
        for c_t, py_t in zip(params, argtypes, strict=True):
            assert _compatible(c_t, _ctype_name(py_t)), (name, c_t, py_t)


@pytest.mark.parametrize("source", ["design.md", "c_api.h"])
def test_status_codes_match(source):
    srcs = dict(_sources())
    text = _strip_comments(srcs[source]())
    found = {m.group(1): int(m.group(2)) for m in re.finditer(r"(MARLIN_\w+)\s*=\s*(\d+)", text)}
    for code, name in _lib.STATUS_NAMES.items():
        assert found.get(name) == code, (name, found)


def test_struct_sizes_on_lp64():
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        pytest.skip("layout numbers below are for LP64")
    assert ctypes.sizeof(_lib.CodeSource) == 40
    assert _lib.CodeSource.data.offset == 8
    assert ctypes.sizeof(_lib.GemmArgs) == 8 * 22 + 4 * 4 + 8
    assert _lib.GemmArgs.a.offset == 8
    assert _lib.GemmArgs.is_k_full.offset == 8 * 22
    assert _lib.GemmArgs.stream.offset == 8 * 22 + 16


def test_offsets_against_compiled_header(tmp_path):
    _sources()
    if shutil.which("cc") is None:
        if os.environ.get("TEST_SRCDIR"):  # under Bazel, which builds C++ with it
            pytest.fail("no C compiler (cc) on PATH")
        pytest.skip("no C compiler")
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "marlin/c_api.h"', ""]
    lines.append("int main(void) {")
    for sname, cls in STRUCTS.items():
        lines.append(f'  printf("{sname} sizeof %zu\\n", sizeof({sname}));')
        for fname, _ in cls._fields_:
            lines.append(f'  printf("{sname} {fname} %zu\\n", offsetof({sname}, {fname}));')
    lines += ["  return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    inc = os.path.join(ROOT, "marlin", "include")
    subprocess.run(["cc", "-std=c11", "-I", inc, str(src), "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n")
    expected = []
    for sname, cls in STRUCTS.items():
        expected.append(f"{sname} sizeof {ctypes.sizeof(cls)}")
        for fname, _ in cls._fields_:
            expected.append(f"{sname} {fname} {getattr(cls, fname).offset}")
    assert [g for g in got if g] == expected
