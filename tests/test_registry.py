"""The registry mechanism, the built-in registries, lazy imports and the absence of import cycles."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import forgetlab
from forgetlab.errors import ForgetlabError
from forgetlab.llm.backends import BACKENDS, BackendKind, is_local
from forgetlab.llm.judges import JUDGES, Judge, build_judge
from forgetlab.llm.transforms import TRANSFORMS, Transform, get_transform
from forgetlab.registry import Registry, resolve_reference

SRC = Path(forgetlab.__file__).resolve().parent.parent


def test_lazy_entries_import_their_module_on_first_use(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "reg_probe_mod.py").write_text("def make(arg):\n    return ('made', arg)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry[object] = Registry("probe", {"p": "reg_probe_mod:make"})
    assert "p" in reg and reg.names() == ["p"] and not reg.is_loaded("p")
    assert "reg_probe_mod" not in sys.modules
    factory = reg.get("p")
    assert "reg_probe_mod" in sys.modules and reg.is_loaded("p")
    assert factory("x") == ("made", "x")  # type: ignore[operator]
    monkeypatch.delitem(sys.modules, "reg_probe_mod")


def test_decorator_registration_and_errors() -> None:
    reg: Registry[object] = Registry("widget")

    @reg.register("spanner")
    def spanner() -> str:
        return "s"

    reg.add("sprocket", "os.path:join")
    assert reg.names() == ["spanner", "sprocket"] and reg.get("spanner") is spanner
    reg.register("spanner")(spanner)  # the same object again (a module reload) is fine
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("spanner", lambda: None)
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("sprocket", "os.path:split")
    with pytest.raises(ValueError, match="not module:attr"):
        reg.add("bad", "os.path.join")
    with pytest.raises(ForgetlabError) as info:
        reg.get("spaner")
    assert str(info.value) == (
        "unknown widget 'spaner' (known: spanner, sprocket); did you mean 'spanner'?"
    )
    with pytest.raises(ForgetlabError) as info:
        reg.get("zzz")
    assert str(info.value) == "unknown widget 'zzz' (known: spanner, sprocket)"


def test_every_registered_name_resolves() -> None:
    assert set(TRANSFORMS.names()) >= {"identity", "rot13", "piglatin", "pretranslated"}
    for name in TRANSFORMS.names():
        assert callable(TRANSFORMS.get(name))
    args = {"pretranslated": "fr", "apertium": "eng-spa"}
    for name in TRANSFORMS.names():
        tr = get_transform(f"{name}:{args[name]}" if name in args else name)
        assert isinstance(tr, Transform)
    assert BACKENDS.names() == ["hf", "mock", "openai", "openai-completions", "packaged", "vllm"]
    for name in BACKENDS.names():
        assert isinstance(BACKENDS.get(name), BackendKind)
    assert not is_local("openai:m") and not is_local("openai-completions:m")
    assert not is_local("mock:echo")
    assert is_local("hf:org/m") and is_local("packaged:gemma-3-270m")
    assert JUDGES.names() == ["llm", "substring"]
    assert isinstance(build_judge("substring"), Judge)
    from forgetlab.llm.benchmarks.registry import BENCHMARKS, prompt_exports

    for name in BENCHMARKS.names():  # every benchmark's prompt sets resolve to a function
        for export in BENCHMARKS.get(name).exports:
            assert isinstance(export.rows, str) and callable(resolve_reference(export.rows))
    assert sorted(prompt_exports()) == [
        "benign",
        "harmful",
        "icl-vs-if",
        "ifeval",
        "multijail",
        "xnli",
    ]


def test_resolve_reference() -> None:
    assert resolve_reference("forgetlab.registry:Registry.add") is Registry.add
    with pytest.raises(ValueError, match="not module:attr"):
        resolve_reference("forgetlab.registry.Registry")
    with pytest.raises(AttributeError):
        resolve_reference("forgetlab.registry:NoSuchThing")


def _fresh(code: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_parsing_and_listing_import_nothing_heavy() -> None:
    got = _fresh(
        """
import json, sys
from forgetlab.llm.backends import resolve_model_spec, BACKENDS
from forgetlab.llm.transforms import available_transforms, parse_transform, get_transform
from forgetlab.llm.judges import parse_judge
resolve_model_spec("hf:org/model"); resolve_model_spec("openai:m"); parse_judge("llm:hf:a/b")
available_transforms(); parse_transform("piglatin@payload")
before = sorted(m for m in sys.modules if m.startswith(("forgetlab.llm.", "torch")))
get_transform("rot13")
after = sorted(m for m in sys.modules if m.startswith("forgetlab.llm.transforms."))
print(json.dumps({"before": before, "after": after, "hf": BACKENDS.is_loaded("hf")}))
"""
    )
    before = set(got["before"])  # type: ignore[arg-type]
    assert not {m for m in before if m == "torch" or m.startswith("torch.")}
    assert not before & {
        "forgetlab.llm.backends.hf",
        "forgetlab.llm.backends.openai_api",
        "forgetlab.llm.transforms.piglatin",
        "forgetlab.llm.transforms.ciphers",
        "forgetlab.llm.transforms.pretranslated",
        "forgetlab.llm.benchmarks.icl_vs_if",
    }
    assert "forgetlab.llm.transforms.ciphers" in got["after"]  # type: ignore[operator]
    assert "forgetlab.llm.transforms.piglatin" not in got["after"]  # type: ignore[operator]
    assert got["hf"] is False


def _import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> forgetlab modules it imports anywhere (module level or inside functions)."""
    mods = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    deps.add(sub if sub in mods else node.module)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    """Not even through imports inside functions (icl_vs_if, transforms and pretranslated were one)."""
    graph = _import_graph(SRC / "forgetlab")
    assert "forgetlab.llm.benchmarks.icl_vs_if" in graph["forgetlab.llm.transforms.pretranslated"]
    assert _cycles(graph) == []
