"""build_report: actions, critical path and object bytes from a trace profile, and the report."""

import gzip
import json
import os
import struct
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))

import build_report  # noqa: E402
import fatbin  # noqa: E402

F = "marlin/sm80_kernel_float16_u4b8_float16_src/sm80_kernel_float16_u4b8_float16.cu"
G = "marlin/sm89_kernel_fe4m3fn_u4_bfloat16_src/sm89_kernel_fe4m3fn_u4_bfloat16.cu"


def _x(cat, name, ts, dur, tid=1):
    return {"cat": cat, "name": name, "ph": "X", "ts": ts, "dur": dur, "pid": 1, "tid": tid}


def _events():
    return [
        {"cat": "build phase marker", "name": "Build artifacts", "ph": "i", "ts": 1_000_000},
        _x("action processing", f"Compiling {F} (sm_80)", 2_000_000, 30_000_000),
        _x("action processing", f"Compiling {F} (sm_90a)", 2_000_000, 40_000_000, tid=2),
        _x(
            "action processing",
            f"Compiling {F} (host code, fat binary of sm_80, sm_90a)",
            42_000_000,
            5_000_000,
        ),
        _x("action processing", f"Compiling {G}", 2_000_000, 20_000_000, tid=3),
        _x("action processing", "Linking marlin/libkernels.a", 47_000_000, 500_000),
        _x(
            "critical path component",
            f"action 'Compiling {F} (sm_90a)'",
            2_000_000,
            40_000_000,
            tid=0,
        ),
        _x(
            "critical path component",
            f"action 'Compiling {F} (host code, fat binary of sm_80, sm_90a)'",
            42_000_000,
            5_000_000,
            tid=0,
        ),
        {"cat": "build phase marker", "name": "Complete build", "ph": "i", "ts": 48_000_000},
    ]


@pytest.mark.parametrize(
    "name,expected",
    [
        (f"Compiling {F} (sm_80)", ("sm80_kernel_float16_u4b8_float16", "sm_80")),
        (f"Compiling {G} (compute_89)", ("sm89_kernel_fe4m3fn_u4_bfloat16", "compute_89")),
        (
            f"Compiling {F} (host code, fat binary of sm_80)",
            ("sm80_kernel_float16_u4b8_float16", build_report.HOST),
        ),
        (f"Compiling {G}", ("sm89_kernel_fe4m3fn_u4_bfloat16", build_report.PER_FILE)),
        (
            f"Compiling {F} (host front end)",
            ("sm80_kernel_float16_u4b8_float16", build_report.FRONT),
        ),
        ("Compiling marlin/csrc/exec_config.cc", None),
        ("Linking marlin/libkernels.a", None),
    ],
)
def test_classify_action(name, expected):
    assert build_report.classify_action(name) == expected


def test_actions_and_critical_path():
    events = _events()
    acts = build_report.actions(events)
    assert len(acts) == 5
    assert [a.part for a in acts if a.file == "sm80_kernel_float16_u4b8_float16"] == [
        "sm_80",
        "sm_90a",
        build_report.HOST,
    ]
    path = build_report.critical_path(events)
    assert path == [
        (f"Compiling {F} (sm_90a)", 40.0),
        (f"Compiling {F} (host code, fat binary of sm_80, sm_90a)", 5.0),
    ]
    assert build_report.build_seconds(events) == 47.0


def _fatbin_entry(kind, arch, payload, arch_specific=False):
    header = bytearray(64)
    struct.pack_into("<HHIQ", header, 0, kind, 0x101, 64, len(payload))
    struct.pack_into("<I", header, 28, arch)
    struct.pack_into("<Q", header, 40, 0x11 | ((1 << 20) if arch_specific else 0))
    return bytes(header) + payload


def _elf_with_fatbin(entries):
    """A minimal ELF64 with sections: null, .shstrtab, .nv_fatbin."""
    body = b"".join(entries)
    blob = struct.pack("<IHHQ", fatbin.FATBIN_MAGIC, 1, 16, len(body)) + body
    names = b"\0.shstrtab\0.nv_fatbin\0"
    data_off = 64
    names_off = data_off + len(blob)
    shoff = names_off + len(names)
    ehdr = bytearray(64)
    ehdr[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", ehdr, 0x28, shoff)
    struct.pack_into("<HHH", ehdr, 0x3A, 64, 3, 1)
    sections = bytes(64)
    sections += struct.pack("<IIQQQQ", 1, 3, 0, 0, names_off, len(names)) + bytes(24)
    sections += struct.pack("<IIQQQQ", 11, 1, 0, 0, data_off, len(blob)) + bytes(24)
    return bytes(ehdr) + blob + names + sections


def test_fatbin_entries_of_an_object():
    data = _elf_with_fatbin(
        [
            _fatbin_entry(2, 80, b"A" * 100),
            _fatbin_entry(2, 90, b"B" * 50, arch_specific=True),
            _fatbin_entry(1, 89, b"C" * 7),
        ]
    )
    code = fatbin.object_device_code(data)
    assert sorted(code) == ["compute_89", "sm_80", "sm_90a"]
    assert code["sm_80"].payload == b"A" * 100
    assert code["sm_90a"].payload == b"B" * 50
    with pytest.raises(ValueError):
        fatbin.object_device_code(b"not an elf file at all, no")


def test_report_rows_totals_and_chart(tmp_path):
    objs = tmp_path / "_objs" / "sm80_kernel_float16_u4b8_float16"
    objs.mkdir(parents=True)
    obj = _elf_with_fatbin(
        [_fatbin_entry(2, 80, b"A" * 2048), _fatbin_entry(2, 90, b"B" * 1024, arch_specific=True)]
    )
    (objs / "sm80_kernel_float16_u4b8_float16.pic.o").write_bytes(obj)
    events = _events()
    acts = build_report.actions(events)
    rows = build_report.per_file_table(acts, build_report.object_sizes(str(tmp_path / "_objs")))
    assert [r["file"] for r in rows] == [
        "sm80_kernel_float16_u4b8_float16",
        "sm89_kernel_fe4m3fn_u4_bfloat16",
    ]
    assert rows[0]["seconds"] == {"sm_80": 30.0, "sm_90a": 40.0, build_report.HOST: 5.0}
    assert rows[0]["bytes"] == {"sm_80": 2048, "sm_90a": 1024}
    assert rows[0]["object"] == len(obj)
    assert build_report.columns(rows) == [
        "sm_80",
        "sm_90a",
        build_report.HOST,
        build_report.PER_FILE,
    ]
    assert build_report.columns(
        [{"seconds": {"sm_80": 1, build_report.FRONT: 1}, "bytes": {}}]
    ) == [
        build_report.FRONT,
        "sm_80",
    ]
    text = build_report.render_markdown("t", events, acts, rows, "build_report.png", None, top=2)
    assert "| sm80_kernel_float16_u4b8_float16 | 30.0 | 40.0 | 5.0 |  | 75.0 | 2 | 1 |" in text
    assert "| **total** | 30.0 | 40.0 | 5.0 | 20.0 | 95.0 | 2 | 1 |" in text
    slowest = text.split("slowest actions")[1].split("## Critical path")[0]
    assert "(sm_90a) | 40.0 |" in slowest and "(sm_80)" in slowest and "Linking" not in slowest
    assert "| critical path | 45.0 s (2 components) |" in text
    assert "![seconds per kernel file and arch](build_report.png)" in text
    note = build_report.render_chart("t", rows, str(tmp_path / "c.png"))
    if note is None:
        assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib" in note


def test_load_profile_gzip_and_plain(tmp_path):
    data = {"otherData": {}, "traceEvents": _events()}
    plain = tmp_path / "p.json"
    plain.write_text(json.dumps(data))
    packed = tmp_path / "p.json.gz"
    with gzip.open(packed, "wt") as f:
        json.dump(data, f)
    assert (
        build_report.load_profile(str(plain)) == build_report.load_profile(str(packed)) == _events()
    )


def test_compare_objects_names_each_difference():
    a = _elf_with_fatbin([_fatbin_entry(2, 80, b"A" * 10), _fatbin_entry(1, 89, b"P")])
    assert fatbin.compare_objects(a, a) == []
    b = _elf_with_fatbin([_fatbin_entry(2, 80, b"A" * 9 + b"X"), _fatbin_entry(2, 90, b"B")])
    assert fatbin.compare_objects(a, b) == [
        ("compute_89", "only in first"),
        ("sm_80", "payload"),
        ("sm_90", "only in second"),
    ]
