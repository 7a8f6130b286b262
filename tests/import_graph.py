"""Static import graphs for the layering tests: what each module imports when it runs.

Read with ``ast`` rather than by importing, so a cycle is caught even when today's import order
happens to work. Imports under ``if TYPE_CHECKING:`` never run and don't count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mautrix_whatsapp"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def runtime_imports(path: Path, root: Path) -> set[str]:
    """Names (relative to ``root``) that ``path`` imports when it runs.

    ``from . import a, b`` yields the package and ``a``, ``b`` (they may be submodules); imports
    of other distributions are kept as ``<absolute>name`` (``from x.y import z``: both
    ``<absolute>x.y`` and ``<absolute>x.y.z``, which may be a submodule), relative imports
    reaching above ``root`` as ``<upward>…``.
    """
    tree = ast.parse(path.read_text())
    type_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for child in ast.walk(statement)
    }
    own = module_name(path, root)
    package = [] if own == "__init__" else own.split(".")
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
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(f"<absolute>{node.module}")
            found.update(f"<absolute>{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(f"<absolute>{alias.name}" for alias in node.names)
    return found


def import_graph(paths: Iterable[Path], root: Path) -> dict[str, set[str]]:
    """Module → the modules of the same graph it imports at run time (itself excluded)."""
    imports = {module_name(p, root): runtime_imports(p, root) for p in paths}

    def resolve(name: str) -> str | None:
        # "db.user.UserRow" names the module "db.user"; names outside the graph resolve to None.
        while name and name not in imports:
            name = name.rpartition(".")[0]
        return name or None

    return {
        module: {r for name in names if (r := resolve(name)) and r != module}
        for module, names in imports.items()
    }


def assert_no_cycles(edges: dict[str, set[str]]) -> None:
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

    for module in sorted(edges):
        visit(module, [])
