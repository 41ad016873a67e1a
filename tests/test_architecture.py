"""ARCHITECTURE.md names every module of the package, and only modules that exist, so a
newcomer can trust it to find where a thing lives."""

from __future__ import annotations

import ast
import re

from helpers import ROOT

PACKAGE = ROOT / "resdsl"
NAMED = re.compile(r"`(resdsl/[\w/]+\.py)`")


def _named() -> set[str]:
    return set(NAMED.findall((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")))


def _modules() -> set[str]:
    return {path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*.py")
            if "__pycache__" not in path.parts}


def test_every_module_of_the_package_is_named():
    missing = sorted(_modules() - _named())
    assert not missing, f"ARCHITECTURE.md does not say where these fit: {missing}"


def test_every_module_it_names_exists():
    stale = sorted(_named() - _modules())
    assert not stale, f"ARCHITECTURE.md names modules that do not exist: {stale}"


# ---- imports flow one way --------------------------------------------------------------
def _module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path, known: set[str]) -> set[str]:
    """The package modules `path` imports, at the top or inside a function alike."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] \
                if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            subs = {f"{target}.{a.name}" for a in node.names} & known
            found |= subs or {target}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return (found & known) - {name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, as the modules along it, or None."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target, path + [target])):
                return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [module])):
            return found
    return None


def test_no_import_cycles_lazy_imports_included():
    paths = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    known = {_module_name(p) for p in paths}
    graph = {_module_name(p): _imports(p, known) for p in paths}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))
    assert _cycle({**graph, "resdsl.ir": graph["resdsl.ir"] | {"resdsl.analyzer"}}), \
        "the cycle finder must find a planted cycle"
