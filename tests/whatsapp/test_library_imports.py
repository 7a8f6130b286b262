"""Import structure of the WhatsApp library: no cycles, no reach upwards, no Matrix.

The library must stand on its own (it could be published alone), so it never imports ``mautrix``
or the bridge, and its modules form no import cycle (hints sit under ``TYPE_CHECKING``).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.import_graph import PACKAGE, assert_no_cycles, import_graph, runtime_imports

LIBRARY = PACKAGE / "whatsapp"
FORBIDDEN = re.compile(r"^<absolute>(mautrix(\.|$)|mautrix_whatsapp(?!\.whatsapp(\.|$))|tests)")


def _library_modules() -> list[Path]:
    return [p for p in LIBRARY.rglob("*.py") if not p.name.endswith("_pb2.py")]


def test_the_library_imports_neither_matrix_nor_the_bridge_nor_the_simulator() -> None:
    checked = 0
    for path in _library_modules():
        for name in runtime_imports(path, LIBRARY):
            checked += 1
            assert not FORBIDDEN.match(name), (path, name)
            assert not name.startswith("<upward>"), (path, name)  # never above whatsapp/
    assert checked > 100  # the scan saw the library


def test_no_import_cycles_in_the_library() -> None:
    edges = import_graph(_library_modules(), LIBRARY)
    assert_no_cycles(edges)
    # The graph is real: known edges are in it.
    assert "store" in edges["signal.cipher"]
    assert "connection" in edges["client"]
