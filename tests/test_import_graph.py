"""No import cycles between forgetlab's modules at import time.

Reads every module's top-level imports (not those inside functions or under
``if TYPE_CHECKING:``, which do not run at import time) and looks for a cycle. A cycle makes
the import order matter and leaves one side seeing a half-initialised module; a function
that imports lazily is the usual way out.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    out.add(sub if sub in known else base)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody)
                for handler in node.handlers:
                    visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {m for m in out if m in known and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := dfs(start)):
            return found
    return None


def test_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_time_cycles() -> None:
    paths = {module_name(p): p for p in SRC.rglob("*.py")}
    known = set(paths)
    graph = {name: top_level_imports(p, name, known) for name, p in paths.items()}
    assert graph["forgetlab.llm.benchmarks.xnli"] >= {
        "forgetlab.llm.benchmarks.base",
        "forgetlab.llm.benchmarks.loop",
    }  # the parser sees real imports
    assert find_cycle(graph) is None


def all_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module ``path`` imports, at import time or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
    return {m for m in out if m in known and m != name}


def test_no_module_imports_upward() -> None:
    """A module never imports a package that contains it (its ``__init__``): what both a
    package and its modules need lives in a leaf module beside them (``schema.py``,
    ``base.py``), so no import order can leave one of them half-initialised. The root
    package, which holds only ``__version__``, is the one exception."""
    paths = {module_name(p): p for p in SRC.rglob("*.py")}
    known = set(paths)
    upward = sorted(
        f"{name} imports {target}"
        for name, p in paths.items()
        for target in all_imports(p, name, known)
        if name.startswith(target + ".") and target != "forgetlab"
    )
    assert upward == []
