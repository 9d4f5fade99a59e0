"""The marlin package's modules import each other without a cycle (issue 8: `_prepare` and
`quant` imported each other, hidden inside functions). Function-level imports count too."""

import ast
import os

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "marlin")


def _modules() -> dict:
    """{dotted module name: path} of every module of the package (the package itself apart)."""
    mods = {}
    base = os.path.dirname(os.path.abspath(PACKAGE))
    for root, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                name = os.path.relpath(os.path.join(root, f), base)[: -len(".py")]
                name = name.replace(os.sep, ".").removesuffix(".__init__")
                mods[name] = os.path.join(root, f)
    return mods


def _imports(path: str, mods: dict) -> set:
    """The package modules `path` imports anywhere in it (marlin itself, the aggregating
    __init__, is left out: every module may use it)."""
    found = set()
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m in mods and m != "marlin"}


def _cycle(graph: dict):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt, stack)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_the_package_is_there():
    mods = _modules()
    for name in ("marlin._prepare", "marlin.quant", "marlin._packing", "marlin._gemm"):
        assert name in mods, sorted(mods)


def test_no_import_cycle():
    mods = _modules()
    graph = {m: _imports(p, mods) - {m} for m, p in mods.items() if m != "marlin"}
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
