"""The bridge's import structure, read statically: no cycles, no module state.

Imports under ``if TYPE_CHECKING:`` don't count (they never run), so collaborators that are
only named in type hints don't make circles. A cycle is caught even when today's import order
happens to work. The library's own layering is checked in
``tests/whatsapp/test_library_imports.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.import_graph import PACKAGE, assert_no_cycles, import_graph

LIBRARY = "whatsapp"


def _bridge_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != LIBRARY]


def test_no_import_cycles_in_the_bridge() -> None:
    edges = import_graph(_bridge_modules(), PACKAGE)
    assert_no_cycles(edges)
    # The graph is real: the modules that hold the bridge together are in it, with their edges.
    assert {"__main__", "user", "matrix", "commands", "commands.auth", "db", "portal"} <= set(
        edges
    )
    assert "user" in edges["commands.auth"] and "session" in edges["user"]
    assert "__main__" not in set().union(*edges.values())  # nobody imports the bridge class


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
