"""The package layout the contract promises: imports point one way, paths are named once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from blueprint_pipeline import contract, pipeline

PACKAGE = Path(contract.__file__).resolve().parent
STAGE_PACKAGES = ("scene", "simready", "usd", "geniesim", "sim", "dataset", "report")


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def _imports(tree: ast.AST, known: dict[str, Path]) -> set[str]:
    """Every project module imported anywhere in `tree`, function-level imports included."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        found |= {t for t in targets if t in known}
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(ast.parse(f.read_text()), mods) - {m} for m, f in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(comp)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_import_circle_among_the_contract_the_registry_and_the_stages():
    graph = _graph()
    watched = {"blueprint_pipeline.contract", "blueprint_pipeline.pipeline", "blueprint_pipeline.runner"}
    watched |= {m for m in graph if m.split(".")[1:2] and m.split(".")[1] in STAGE_PACKAGES}
    assert [sorted(c) for c in _cycles(graph) if c & watched] == []


def test_stages_import_the_contract_never_the_registry():
    graph = _graph()
    for pkg in STAGE_PACKAGES:
        users = [m for m in graph if m.startswith(f"blueprint_pipeline.{pkg}") and "blueprint_pipeline.pipeline" in graph[m]]
        assert users == [], f"{users} import the registry; import blueprint_pipeline.contract instead"


def test_forbidden_imports_between_packages():
    graph = _graph()

    def importers(src_prefix: str, target_prefix: str) -> list[str]:
        return sorted(m for m, deps in graph.items() if m.startswith(src_prefix)
                      and any(d.startswith(target_prefix) for d in deps))

    assert importers("blueprint_pipeline.sim", "blueprint_pipeline.batch") == []
    assert importers("blueprint_pipeline.usd", "blueprint_pipeline.simready.stage") == []
    assert importers("blueprint_pipeline.service", "blueprint_pipeline.client") == []
    assert importers("blueprint_pipeline.resilience", "blueprint_pipeline.batch") == []
    assert importers("blueprint_pipeline.contract", "blueprint_pipeline.pipeline") == []


def _code_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are not docstrings (f-string parts included)."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_artifact_paths_are_spelled_only_in_the_contract():
    artifacts = [v for v in vars(contract).values() if isinstance(v, contract.Artifact)]
    spelled = {a.rel for a in artifacts} | {a.name for a in artifacts if "." in a.name}
    found = []
    for module, f in _modules().items():
        if module == "blueprint_pipeline.contract":
            continue
        for line, text in _code_strings(ast.parse(f.read_text())):
            if text in spelled or any(text.startswith(f"{a.rel}/") for a in artifacts):
                found.append(f"{f.relative_to(PACKAGE)}:{line}: {text!r}")
    assert found == []


def test_the_registry_lists_the_contract_stages_in_order_with_their_artifacts():
    assert tuple(pipeline.STAGE_NAMES) == contract.STAGE_NAMES
    produced = {o for s in pipeline.STAGES for o in s.outputs}
    for i, stage in enumerate(pipeline.STAGES):
        for name in stage.inputs:
            if name in (contract.MANIFEST_INPUT, contract.ASSETS_INPUT, contract.ROBOT_MODEL_INPUT):
                continue
            producer = name.split("/", 1)[0]
            assert contract.STAGE_NAMES.index(producer) < i, f"{stage.name} reads {name} from a later stage"
            # episodes/data may be empty, so it is not a declared (always written) output
            assert name in produced or name == contract.EPISODES_DATA.rel, name


# modules for a consumer's environment: lerobot's plugin (run by `make test-lerobot`)
OPTIONAL_DEPENDENCY = {"blueprint_pipeline.evaluate.lerobot_plugin": ("lerobot", "torch"),
                       "blueprint_pipeline.evaluate.lerobot_policy": ("lerobot", "torch")}


def test_every_module_imports():
    """A module that fails to import (a broken stage above all) fails the suite; nothing skips."""
    import importlib

    import importlib.util

    for module in sorted(_modules()):
        if module.endswith("__main__"):
            continue
        if module in OPTIONAL_DEPENDENCY:  # imports exactly where its one optional dependency is installed
            needs = OPTIONAL_DEPENDENCY[module]
            if any(importlib.util.find_spec(n) is None for n in needs):
                with pytest.raises(ModuleNotFoundError) as exc:
                    importlib.import_module(module)
                assert exc.value.name.split(".")[0] in needs, exc.value  # nothing else may be missing
                continue
        importlib.import_module(module)
