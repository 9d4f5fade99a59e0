"""Build report: seconds and object bytes per kernel file and arch from a Bazel trace profile.

    bazel build //marlin:kernels --cuda_archs=sm_80,sm_89 --profile=/tmp/build.profile.gz
    bazel run //tools:build_report -- /tmp/build.profile.gz --out_dir=/tmp/report

reads Bazel's JSON trace profile (`--profile=FILE`, gzipped when FILE ends in `.gz`) and writes
`build_report.md` and `build_report.png` (a chart, when matplotlib is importable; otherwise the
Markdown says so and the run still succeeds). Actions are recognised by cuda_library's progress
messages (cuda_compile.bzl): `Compiling F.cu` (one action per file), `Compiling F.cu (host front
end)`, `Compiling F.cu (sm_80)` (one device action per arch) and `Compiling F.cu (host code, fat
binary of ...)`. Object bytes
per arch come from the fat binaries of the objects under `--objects_dir` (default
`bazel-bin/marlin/_objs` of the workspace): the device code each arch adds to the object.
"""

import collections
import gzip
import json
import os
import re
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fatbin  # noqa: E402

_OUT_DIR = flags.DEFINE_string(
    "out_dir", ".", "Directory for build_report.md and build_report.png."
)
_OBJECTS_DIR = flags.DEFINE_string(
    "objects_dir",
    None,
    "Where the objects are (`<stem>.pic.o` anywhere below); default: bazel-bin/marlin/_objs.",
)
_TITLE = flags.DEFINE_string("title", None, "Report title (default: the profile's file name).")
_TOP = flags.DEFINE_integer("top", 10, "How many of the slowest actions to list.")

Action = collections.namedtuple("Action", ["name", "start", "seconds", "file", "part"])

# cuda_library's progress messages (cuda_compile.bzl).
_COMPILE = re.compile(r"^Compiling (?P<path>\S+\.cu)(?: \((?P<detail>[^)]*)\))?$")
PER_FILE = "whole file"
FRONT = "host front end"
HOST = "host + fat binary"


def load_profile(path):
    """The trace events of a Bazel JSON profile (plain or gzipped)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    return data["traceEvents"] if isinstance(data, dict) else data


def classify_action(name):
    """`(kernel file stem, part)` of a CUDA compile's progress message, else None.

    `part` is an arch (`sm_80`, `compute_89`) for a device action, `FRONT` for the host front
    end (host preprocessing, cudafe++), `HOST` for the fat binary + host compile and `PER_FILE`
    for a one-action-per-file compile.
    """
    match = _COMPILE.match(name)
    if not match:
        return None
    stem = os.path.basename(match.group("path"))[: -len(".cu")]
    detail = match.group("detail")
    if detail is None:
        return stem, PER_FILE
    if detail.startswith("host code"):
        return stem, HOST
    if detail == FRONT:
        return stem, FRONT
    return stem, detail


def actions(events):
    """Every executed action (`action processing` events), in start order."""
    result = []
    for e in events:
        if e.get("cat") != "action processing" or e.get("ph") != "X":
            continue
        kind = classify_action(e["name"])
        result.append(
            Action(
                name=e["name"],
                start=e["ts"] / 1e6,
                seconds=e.get("dur", 0) / 1e6,
                file=kind[0] if kind else None,
                part=kind[1] if kind else None,
            )
        )
    return sorted(result, key=lambda a: a.start)


def critical_path(events):
    """[(component name, seconds)] of Bazel's critical path, in order."""
    parts = [e for e in events if e.get("cat") == "critical path component" and e.get("ph") == "X"]
    parts.sort(key=lambda e: e["ts"])
    return [(re.sub(r"^action '(.*)'$", r"\1", e["name"]), e.get("dur", 0) / 1e6) for e in parts]


def build_seconds(events):
    """Seconds from `Build artifacts` to `Complete build` (Bazel's execution phase), or None."""
    marks = {
        e["name"]: e["ts"]
        for e in events
        if e.get("cat") == "build phase marker" and e.get("ph") == "i"
    }
    if "Build artifacts" in marks and "Complete build" in marks:
        return (marks["Complete build"] - marks["Build artifacts"]) / 1e6
    return None


def total_seconds(events):
    """Seconds from the first to the last event of the profile."""
    times = [e["ts"] for e in events if "ts" in e] + [
        e["ts"] + e.get("dur", 0) for e in events if "ts" in e
    ]
    return (max(times) - max(min(times), 0)) / 1e6 if times else 0.0


def object_sizes(objects_dir):
    """{file stem: {"object": bytes, target: device code bytes}} of every `<stem>.pic.o` below."""
    sizes = {}
    if not objects_dir or not os.path.isdir(objects_dir):
        return sizes
    for root, _, names in os.walk(objects_dir):
        for name in names:
            if not name.endswith(".pic.o"):
                continue
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            entry = {"object": len(data)}
            try:
                for target, e in fatbin.object_device_code(data).items():
                    entry[target] = len(e.payload)
            except ValueError:
                pass
            sizes[name[: -len(".pic.o")]] = entry
    return sizes


def per_file_table(acts, sizes):
    """Rows per kernel file: {"file", "seconds": {part: s}, "bytes": {target: n}, "object": n}."""
    rows = {}
    for a in acts:
        if a.file is None:
            continue
        row = rows.setdefault(a.file, {"file": a.file, "seconds": {}, "bytes": {}, "object": None})
        row["seconds"][a.part] = row["seconds"].get(a.part, 0.0) + a.seconds
    for stem, row in rows.items():
        size = sizes.get(stem, {})
        row["object"] = size.get("object")
        row["bytes"] = {k: v for k, v in size.items() if k != "object"}
    return sorted(rows.values(), key=lambda r: -sum(r["seconds"].values()))


def _arch_key(part):
    """Order: host front end, SASS ascending, PTX, host + fat binary, whole file."""
    if part == FRONT:
        return (-1, 0, part)
    if part == HOST:
        return (2, 0, part)
    if part == PER_FILE:
        return (3, 0, part)
    m = re.match(r"^(sm|compute)_(\d+)", part)
    if m:
        return (0 if m.group(1) == "sm" else 1, int(m.group(2)), part)
    return (4, 0, part)


def columns(rows):
    """The parts (archs, host, whole file) seen in any row, in report order."""
    parts = {p for r in rows for p in r["seconds"]} | {p for r in rows for p in r["bytes"]}
    return sorted(parts, key=_arch_key)


def _kib(n):
    return "" if n is None else f"{n / 1024:,.0f}"


def _s(x):
    return "" if x is None else f"{x:.1f}"


def render_markdown(title, events, acts, rows, chart_name, chart_note, top=10):
    """The report as Markdown."""
    parts = columns(rows)
    seconds_parts = [p for p in parts if any(p in r["seconds"] for r in rows)]
    byte_parts = [p for p in parts if any(p in r["bytes"] for r in rows)]
    cuda = [a for a in acts if a.file is not None]
    path = critical_path(events)
    lines = [f"# Build report: {title}", ""]
    build = build_seconds(events)
    lines += [
        "| | |",
        "|---|---|",
        f"| profile span (launch to end) | {total_seconds(events):.1f} s |",
        "| execution phase (`Build artifacts` to `Complete build`) | {} |".format(
            _s(build) + " s" if build else "n/a"
        ),
        f"| actions executed (in the profile) | {len(acts)} |",
        f"| of which CUDA compile actions | {len(cuda)} ({len(rows)} kernel files) |",
        f"| sum of CUDA compile action seconds | {sum(a.seconds for a in cuda):.1f} s |",
        f"| sum of all action seconds | {sum(a.seconds for a in acts):.1f} s |",
        f"| critical path | {sum(s for _, s in path):.1f} s ({len(path)} components) |",
        "",
        "## Seconds and object bytes per kernel file and arch",
        "",
        f"Seconds: wall time of each action (`{FRONT}`: host preprocessing and cudafe++; per "
        f"arch: its device action; `{HOST}`: fat binary and host compile; `{PER_FILE}`: "
        "one action for the whole file). KiB: device code per arch in the object's fat "
        "binary, and the whole object.",
        "",
    ]
    header = ["kernel file"] + [f"{p} s" for p in seconds_parts] + ["total s"]
    header += [f"{p} KiB" for p in byte_parts] + ["object KiB"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    totals = collections.defaultdict(float)
    byte_totals = collections.defaultdict(int)
    object_total = 0
    for r in rows:
        cells = [r["file"]]
        for p in seconds_parts:
            cells.append(_s(r["seconds"].get(p)))
            totals[p] += r["seconds"].get(p, 0.0)
        cells.append(_s(sum(r["seconds"].values())))
        for p in byte_parts:
            cells.append(_kib(r["bytes"].get(p)))
            byte_totals[p] += r["bytes"].get(p, 0)
        cells.append(_kib(r["object"]))
        object_total += r["object"] or 0
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["**total**"] + [_s(totals[p]) for p in seconds_parts] + [_s(sum(totals.values()))]
    cells += [_kib(byte_totals[p]) for p in byte_parts] + [
        _kib(object_total) if object_total else ""
    ]
    lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"## The {top} slowest actions", "", "| action | seconds |", "|---|---|"]
    for a in sorted(acts, key=lambda a: -a.seconds)[:top]:
        lines.append(f"| {a.name} | {a.seconds:.1f} |")
    lines += ["", "## Critical path", "", "| component | seconds |", "|---|---|"]
    for name, s in path:
        lines.append(f"| {name} | {s:.2f} |")
    lines += ["", "## Chart", ""]
    lines.append(f"![seconds per kernel file and arch]({chart_name})" if chart_name else chart_note)
    return "\n".join(lines) + "\n"


def render_chart(title, rows, path):
    """Writes a PNG: stacked seconds per file and part, and device code KiB per file and arch.

    Returns:
      None on success, else a message saying why no chart was written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"No chart: matplotlib is not importable ({e}); `pip install matplotlib`, run again."
    parts = columns(rows)
    seconds_parts = [p for p in parts if any(p in r["seconds"] for r in rows)]
    byte_parts = [p for p in parts if any(p in r["bytes"] for r in rows)]
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = {p: palette[i % len(palette)] for i, p in enumerate(parts)}  # one color per part
    names = [r["file"] for r in rows][::-1]
    ordered = rows[::-1]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 0.35 * len(rows) + 2), sharey=True)
    left = [0.0] * len(rows)
    for p in seconds_parts:
        values = [r["seconds"].get(p, 0.0) for r in ordered]
        ax1.barh(names, values, left=left, label=p, color=color[p])
        left = [a + b for a, b in zip(left, values, strict=False)]
    ax1.set_xlabel("action seconds")
    ax1.legend(loc="lower right", fontsize=8)
    left = [0.0] * len(rows)
    for p in byte_parts:
        values = [r["bytes"].get(p, 0) / 1024 for r in ordered]
        ax2.barh(names, values, left=left, label=p, color=color[p])
        left = [a + b for a, b in zip(left, values, strict=False)]
    ax2.set_xlabel("device code KiB in the object")
    if byte_parts:
        ax2.legend(loc="lower right", fontsize=8)
    ax1.tick_params(axis="y", labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return None


def _resolve(path):
    """Paths on the command line are relative to where `bazel run` was called."""
    base = os.environ.get("BUILD_WORKING_DIRECTORY", "")
    return path if os.path.isabs(path) or not base else os.path.join(base, path)


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: build_report PROFILE [--out_dir=DIR] [--objects_dir=DIR]")
    profile = _resolve(argv[1])
    objects_dir = _OBJECTS_DIR.value
    if objects_dir:
        objects_dir = _resolve(objects_dir)
    else:
        workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY", os.getcwd())
        objects_dir = os.path.join(workspace, "bazel-bin", "marlin", "_objs")
    out_dir = _resolve(_OUT_DIR.value)
    os.makedirs(out_dir, exist_ok=True)
    events = load_profile(profile)
    acts = actions(events)
    rows = per_file_table(acts, object_sizes(objects_dir))
    title = _TITLE.value or os.path.basename(profile)
    chart = os.path.join(out_dir, "build_report.png")
    note = (
        render_chart(title, rows, chart)
        if rows
        else "No chart: no CUDA compile actions in the profile."
    )
    text = render_markdown(
        title, events, acts, rows, None if note else "build_report.png", note, _TOP.value
    )
    with open(os.path.join(out_dir, "build_report.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(
        "wrote {}{}".format(
            os.path.join(out_dir, "build_report.md"), "" if note else " and build_report.png"
        )
    )
    if note:
        print(note)
    return 0


if __name__ == "__main__":
    app.run(main)
