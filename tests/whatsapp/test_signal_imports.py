"""Import structure of the Signal, crypto and socket layers: no cycles, no reach upwards.

Read statically (imports under ``if TYPE_CHECKING:`` do not count), so a cycle is caught even when
today's import order happens to work.
"""

from __future__ import annotations

import ast
from pathlib import Path

WHATSAPP = Path(__file__).resolve().parents[2] / "mautrix_whatsapp" / "whatsapp"
PACKAGES = ("signal", "crypto", "socket")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(WHATSAPP).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """Absolute names (relative to ``whatsapp``) of what ``path`` imports when it runs."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for child in ast.walk(statement)
    }
    package = _module_name(path).split(".")
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
            base = package[: len(package) - node.level + 1]
            found.add(".".join([*base, *(node.module.split(".") if node.module else [])]))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = (
                [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            )
            found.update(f"<absolute>{name}" for name in names if name)
    return found


def _graph() -> dict[str, set[str]]:
    paths = [WHATSAPP / "store.py"] + [
        p for pkg in PACKAGES for p in (WHATSAPP / pkg).glob("*.py")
    ]
    return {_module_name(p): _runtime_imports(p) for p in paths}


def test_no_upward_or_matrix_imports() -> None:
    for module, imports in _graph().items():
        for name in imports:
            assert not name.startswith("<absolute>mautrix"), (module, name)
            assert not name.startswith("<upward>"), (module, name)  # never above whatsapp/


def test_no_import_cycles() -> None:
    graph = _graph()

    def resolve(name: str) -> str | None:
        # "signal.proto.storage_pb2" and "signal" name modules; "crypto.keys.KeyPair" does not.
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
    assert "signal.cipher" in edges and "store" in edges["signal.cipher"]  # the graph is real
