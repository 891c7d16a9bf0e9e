"""No two packages of stackmedic import each other, directly or around a longer loop.

A package is the first name under ``stackmedic`` (``config``, ``health``, and a top-level
module such as ``agent`` or ``views`` is one too). Every import counts: at module level, inside
functions, and under ``if TYPE_CHECKING:``, because a cycle hidden from the interpreter is
still two packages that cannot be understood, tested or changed one without the other.
"""

from __future__ import annotations

import ast
import graphlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import stackmedic

SRC = Path(stackmedic.__file__).parent
ROOT = "__init__"  # the stackmedic package itself (its version)

# Imports known to close a cycle, each with why it is still there. Keep it short: an entry
# whose import is gone (or no longer closes a cycle) makes the test fail, so it is removed.
ALLOWED: dict[tuple[str, str], str] = {}


def import_graph(src: Path = SRC) -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) -> where, as ``file:line``."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(src.rglob("*.py")):
        relative = path.relative_to(src)
        source = relative.parts[0].removesuffix(".py")
        for target, line in imported_packages(src, relative):
            if target != source:
                edges.setdefault((source, target), []).append(f"{relative}:{line}")
    return edges


def imported_packages(src: Path, relative: Path) -> Iterator[tuple[str, int]]:
    """Every stackmedic package a file imports, with the line, wherever the import is."""
    # The package its relative imports start from: ["stackmedic", "health"] for both
    # health/__init__.py and health/engine.py.
    here = ["stackmedic", *relative.parent.parts]
    for node in ast.walk(ast.parse((src / relative).read_text(), str(relative))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            modules = ([f"stackmedic.{alias.name}" for alias in node.names]
                       if module == "stackmedic" else [module])
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] != "stackmedic":
                continue
            name = parts[1] if len(parts) > 1 else ROOT
            if not ((src / name).is_dir() or (src / f"{name}.py").is_file()):
                name = ROOT  # `from stackmedic import __version__`
            yield name, node.lineno


def find_cycle(edges: set[tuple[str, str]]) -> list[str] | None:
    """One cycle of packages (its first name repeated at the end), or None."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        # Listed against the edges' direction: each name imports the one before it.
        return list(reversed(exc.args[1]))
    return None


def described(cycle: list[str], edges: dict[tuple[str, str], list[str]]) -> str:
    """``a -> b (a/x.py:3) -> a (b/y.py:7)``: each step with the imports that make it."""
    steps = [cycle[0]]
    for source, target in itertools.pairwise(cycle):
        steps.append(f"{target} ({', '.join(edges[(source, target)][:3])})")
    return " -> ".join(steps)


def test_packages_import_each_other_one_way_only() -> None:
    edges = import_graph()
    cycle = find_cycle(set(edges) - set(ALLOWED))
    assert cycle is None, "package import cycle: " + described(cycle, edges)


def test_every_allowed_import_still_closes_a_cycle() -> None:
    edges = import_graph()
    rest = set(edges) - set(ALLOWED)
    stale = [f"{a} -> {b}" for a, b in ALLOWED
             if (a, b) not in edges or find_cycle(rest | {(a, b)}) is None]
    assert stale == [], "no longer a cycle, remove from ALLOWED: " + ", ".join(stale)


def test_a_cycle_through_a_function_or_type_checking_import_is_found(tmp_path: Path) -> None:
    files = {
        "__init__.py": "__version__ = '0'\n",
        "cli.py": "from stackmedic import __version__\n",
        "a/__init__.py": "",
        "a/x.py": "from typing import TYPE_CHECKING\n"
                  "from stackmedic import bus\n"
                  "if TYPE_CHECKING:\n"
                  "    from stackmedic.b.y import Y\n",
        "b/__init__.py": "from .y import Y\n",
        "b/y.py": "class Y:\n"
                  "    def x(self) -> None:\n"
                  "        from ..a import x\n",
        "bus.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    edges = import_graph(tmp_path)

    assert edges == {("cli", ROOT): ["cli.py:1"], ("a", "bus"): ["a/x.py:2"],
                     ("a", "b"): ["a/x.py:4"], ("b", "a"): ["b/y.py:3"]}
    cycle = find_cycle(set(edges))
    assert cycle is not None
    assert described(cycle, edges) in ("a -> b (a/x.py:4) -> a (b/y.py:3)",
                                       "b -> a (b/y.py:3) -> b (a/x.py:4)")
