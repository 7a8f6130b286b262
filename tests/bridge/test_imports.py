"""The bridge's import structure, read statically: no cycles, no module state, layering kept.

Imports under ``if TYPE_CHECKING:`` don't count (they never run), so collaborators that are
only named in type hints don't make circles. A cycle is caught even when today's import order
happens to work.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mautrix_whatsapp"
LIBRARY = "whatsapp"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def _runtime_imports(path: Path) -> set[str]:
    """Names (relative to ``mautrix_whatsapp``) that ``path`` imports when it runs.

    ``from . import a, b`` yields the package and ``a``, ``b`` (they may be submodules);
    imports of other distributions are kept as ``<absolute>name``, imports reaching above the
    package as ``<upward>…``.
    """
    tree = ast.parse(path.read_text())
    type_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for child in ast.walk(statement)
    }
    package = [] if _module_name(path) == "__init__" else _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level - 1 > len(package):
                found.add(f"<upward>{'.' * node.level}{node.module or ''}")
                continue
            base = [*package[: len(package) - node.level + 1]]
            if node.module:
                base += node.module.split(".")
            found.add(".".join(base) or "__init__")
            found.update(".".join([*base, alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = (
                [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            )
            found.update(f"<absolute>{name}" for name in names if name)
    return found


def _bridge_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != LIBRARY]


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _runtime_imports(p) for p in _bridge_modules()}


def test_no_import_cycles_in_the_bridge() -> None:
    graph = _graph()

    def resolve(name: str) -> str | None:
        # "db.user.UserRow" names the module "db.user"; "whatsapp.client" is outside the graph.
        while name and name not in graph:
            name = name.rpartition(".")[0]
        return name or None

    edges = {
        m: {r for n in imports if (r := resolve(n)) and r != m} for m, imports in graph.items()
    }
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(edges[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    # The graph is real: the modules that hold the bridge together are in it, with their edges.
    assert {"__main__", "user", "matrix", "commands", "commands.auth", "db", "portal"} <= set(
        graph
    )
    assert "user" in edges["commands.auth"] and "session" in edges["user"]
    assert "__main__" not in set().union(*edges.values())  # nobody imports the bridge class


def test_the_library_never_imports_the_bridge() -> None:
    """``whatsapp/`` imports neither mautrix nor anything of the bridge (absolute or relative)."""
    forbidden = re.compile(r"^<absolute>(mautrix(\.|$)|mautrix_whatsapp(?!\.whatsapp(\.|$)))")
    checked = 0
    for path in (PACKAGE / LIBRARY).rglob("*.py"):
        for name in _runtime_imports(path):
            checked += 1
            assert not forbidden.match(name), (path, name)
            if not name.startswith("<absolute>"):
                assert name == LIBRARY or name.startswith(f"{LIBRARY}."), (path, name)
    assert checked > 100


_CONSTANT = re.compile(r"^(_?[A-Z][A-Z0-9_]*|__all__)$")


def test_no_module_state_in_the_bridge() -> None:
    """Module-level containers are constants (UPPER_CASE, never reassigned); no ``global``."""
    for path in _bridge_modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            assert not isinstance(node, ast.Global), (path, node.lineno)
        for statement in tree.body:
            if isinstance(statement, ast.Assign | ast.AnnAssign) and isinstance(
                statement.value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp
            ):
                targets = (
                    statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                )
                for target in targets:
                    name = ast.unparse(target)
                    assert _CONSTANT.match(name), f"{path}:{statement.lineno}: {name} is state"
