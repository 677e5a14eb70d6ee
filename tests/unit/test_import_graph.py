"""No import cycles between netwrap's modules, lazy (inside a function) or not, and no
module imports back from the command line's dispatcher (issue 10)."""

from __future__ import annotations

import ast
import os

from conftest import LIB

PKG = os.path.join(LIB, "netwrap")


def modules() -> dict[str, str]:
    found = {}
    for root, _dirs, files in os.walk(PKG):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, LIB)[:-3].replace(os.sep, ".")
                found[rel.removesuffix(".__init__")] = path
    return found


def imports(path: str, me: str, known: set[str]) -> set[str]:
    """Every netwrap module ``me`` imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative
                parts = me.split(".")[: -node.level]
                base = ".".join([*parts, node.module])
            for a in node.names:
                if f"{base}.{a.name}" in known:
                    out.add(f"{base}.{a.name}")
                elif base in known:
                    out.add(base)
    out.discard(me)
    # importing a submodule imports its package first: not an edge of interest
    return {m for m in out if not me.startswith(m + ".")}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(path, name, known) for name, path in mods.items()}


def test_no_import_cycles_lazy_or_not():
    g = graph()
    assert len(g) > 30
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                cycles.append(
                    " -> ".join(stack[stack.index(nxt) :] + [node, nxt])
                    if nxt in stack
                    else f"{node} -> {nxt}"
                )
            elif nxt not in state:
                visit(nxt, [*stack, node])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [])
    assert cycles == []


def test_nothing_imports_back_from_the_dispatcher():
    g = graph()
    assert [m for m, deps in g.items() if "netwrap.cli" in deps and m != "netwrap.__main__"] == []


def test_a_command_module_imports_no_other_command_module():
    """cli_nic, cli_netns, ... share what they share through cli_base and the library,
    never by reaching into each other (one command's parsers stay its own)."""
    g = graph()
    cli = {m for m in g if m.startswith("netwrap.cli_") and m != "netwrap.cli_base"}
    assert len(cli) > 5
    assert {m: sorted(g[m] & cli) for m in cli if g[m] & cli} == {}
