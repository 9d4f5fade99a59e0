"""Reads tests/golden/vllm_marlin_upstream.txt (see make_upstream_golden.py for the format)."""

import hashlib
import os

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(_TESTS, "golden", "vllm_marlin_upstream.txt")


def param_line(inst) -> str:
    """One instantiation as the golden spells it: a|b|c|s|threads|m|n|k|m8|stages|gb|zpf."""
    values = [t.name for t in (inst.a_type, inst.b_type, inst.c_type, inst.s_type)]
    values += [
        str(inst.threads),
        str(inst.thread_m_blocks),
        str(inst.thread_n_blocks),
        str(inst.thread_k_blocks),
        "1" if inst.m_block_size_8 else "0",
        str(inst.stages),
        str(inst.group_blocks),
        "1" if inst.is_zp_float else "0",
    ]
    return "|".join(values)


def digest(lines) -> str:
    """sha256 over the sorted 'file|params' lines, as the golden's script computes it."""
    return hashlib.sha256("".join(sorted(f"{line}\n" for line in lines)).encode()).hexdigest()


def load() -> dict:
    """{arch_list: {"records": [(file, index_in_file, selector_index, param_line)], ...}}."""
    with open(GOLDEN, encoding="utf-8") as f:
        text = f.read()
    files, arch_lists, current = {}, {}, None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("file "):
            _, name, count = line.split(" ")
            current = []
            files[name] = (int(count), current)
        elif line.startswith("archs "):
            _, arch_list, *fields = line.split(" ")
            info = dict(field.split("=", 1) for field in fields)
            current = []
            arch_lists[arch_list] = {
                "order": current,
                "num_files": int(info["files"]),
                "total": int(info["instantiations"]),
                "sha256": info["sha256"],
            }
        else:
            current.append(line)
    for info in arch_lists.values():
        records = []
        for name in info["order"]:
            count, lines = files[name]
            assert count == len(lines), f"golden: {name} count"
            records += [(name, i, len(records) + i, line) for i, line in enumerate(lines)]
        info["records"] = records
        info["files"] = {name: files[name][0] for name in info["order"]}
    return arch_lists
