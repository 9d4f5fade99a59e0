"""Reads the device code embedded in an nvcc object: the `.nv_fatbin` section's entries.

A whole-program nvcc object carries one fat binary in its `.nv_fatbin` ELF section: a 16-byte
header (magic 0xBA55ED50, version, header size, size of what follows), then entries, each a
header (kind: 1 PTX, 2 ELF cubin; its own size; payload size; at offset 28 the arch number,
`80` for sm_80, with bit 20 of the flags at offset 40 set for arch-specific targets such as
sm_90a) and the payload (possibly compressed by fatbinary; compared as stored). Only the fields
this project reads are decoded; the whole entry header is kept for comparisons.
"""

import collections
import struct

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX = 1
KIND_ELF = 2
_ARCH_SPECIFIC = 1 << 20

Entry = collections.namedtuple("Entry", ["kind", "arch", "header", "payload"])


def elf_sections(data):
    """{section name: bytes} of a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = []
    for i in range(shnum):
        name, kind, _, _, offset, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        headers.append((name, kind, offset, size))
    names_offset = headers[shstrndx][2]
    sections = {}
    for name, kind, offset, size in headers:
        start = names_offset + name
        label = data[start : data.index(b"\0", start)].decode()
        # SHT_NOBITS (8) has no bytes in the file.
        sections[label] = b"" if kind == 8 else data[offset : offset + size]
    return sections


def entry_target(entry):
    """`sm_80`, `sm_90a` for a cubin; `compute_89` for PTX."""
    flags = struct.unpack_from("<Q", entry.header, 40)[0] if len(entry.header) >= 48 else 0
    suffix = "a" if flags & _ARCH_SPECIFIC else ""
    prefix = "sm_" if entry.kind == KIND_ELF else "compute_"
    return f"{prefix}{entry.arch}{suffix}"


def fatbin_entries(blob):
    """The entries of the fat binaries in `blob` (a `.nv_fatbin` section), in order."""
    entries = []
    pos = 0
    while pos + 16 <= len(blob):
        magic, _, header_size, size = struct.unpack_from("<IHHQ", blob, pos)
        if magic != FATBIN_MAGIC:
            if blob[pos:].strip(b"\0"):
                raise ValueError(f"no fat binary header at offset {pos}")
            break
        p = pos + header_size
        end = p + size
        while p < end:
            kind, _, entry_header, payload_size = struct.unpack_from("<HHIQ", blob, p)
            (arch,) = struct.unpack_from("<I", blob, p + 28)
            header = blob[p : p + entry_header]
            payload = blob[p + entry_header : p + entry_header + payload_size]
            entries.append(Entry(kind, arch, header, payload))
            p += entry_header + payload_size
        pos = end
    return entries


def object_device_code(data):
    """{target (`sm_80`, `compute_89`): Entry} of an nvcc object's fat binary."""
    sections = elf_sections(data)
    if ".nv_fatbin" not in sections:
        raise ValueError("no .nv_fatbin section")
    result = {}
    for entry in fatbin_entries(sections[".nv_fatbin"]):
        target = entry_target(entry)
        if target in result:
            raise ValueError("two fat binary entries for " + target)
        result[target] = entry
    return result


def compare_objects(a, b):
    """Differences between two objects' device code: [(target, what)], empty when identical.

    `what` is `only in first`, `only in second`, `header` or `payload`.
    """
    code_a, code_b = object_device_code(a), object_device_code(b)
    diffs = []
    for target in sorted(set(code_a) | set(code_b)):
        if target not in code_b:
            diffs.append((target, "only in first"))
        elif target not in code_a:
            diffs.append((target, "only in second"))
        elif code_a[target].header != code_b[target].header:
            diffs.append((target, "header"))
        elif code_a[target].payload != code_b[target].payload:
            diffs.append((target, "payload"))
    return diffs


def main(argv):
    """`fatbin.py DIR_A DIR_B`: compares the device code of every `*.o` of DIR_A with DIR_B's."""
    import os
    import sys

    if len(argv) != 3:
        sys.stderr.write("usage: fatbin.py DIR_A DIR_B\n")
        return 2
    failed = 0
    found = 0
    for root, _, names in os.walk(argv[1]):
        for name in sorted(names):
            if not name.endswith(".o"):
                continue
            path_a = os.path.join(root, name)
            path_b = os.path.join(argv[2], os.path.relpath(path_a, argv[1]))
            with open(path_a, "rb") as f:
                a = f.read()
            if not os.path.exists(path_b):
                print(f"{name}: missing in {argv[2]}")
                failed += 1
                continue
            with open(path_b, "rb") as f:
                b = f.read()
            found += 1
            diffs = compare_objects(a, b)
            targets = ", ".join(f"{t} {len(e.payload)} B" for t, e in object_device_code(a).items())
            same = "object identical" if a == b else "object bytes differ"
            print(
                f"{name}: {'; '.join(f'{t}: {w}' for t, w in diffs) or 'device code identical'}"
                f" ({targets}; {same})"
            )
            failed += bool(diffs)
    print(f"{found} objects compared, {failed} with differences")
    return 1 if failed or not found else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv))
