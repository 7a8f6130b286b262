"""Import structure of the WhatsApp library: no cycles, no reach upwards, no Matrix; and the
simulator's independence from it.

The library must stand on its own (it could be published alone), so it never imports ``mautrix``
or the bridge, and its modules form no import cycle (hints sit under ``TYPE_CHECKING``).

The simulator plays WhatsApp's server and phones against our client. Where it shares code with
the client, a mistake there is made on both sides and no test sees it; so it may use only the
library's primitives, and writes everything WhatsApp-specific again from the sources.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


SIMULATOR = PACKAGE.parent / "tests" / "simulator"
CLIENT = "mautrix_whatsapp.whatsapp"
SIMULATOR_MAY_USE = (
    "binary",  # the codec
    "crypto",  # curve, XEdDSA, HKDF/CBC
    "proto",  # protobuf schemas
    "signal",  # the Signal library, which libsignal-node vouches for
    "store",  # the in-memory stores the Signal library runs on (storage, no protocol)
    "socket.errors",
    "socket.frames",  # framing
    "socket.noise_handshake",  # Noise's symmetric state
)
CLIENT_LOGIC = (
    *("pair", "pair_code", "pair_flow", "pair_code_flow"),
    *("send", "message", "usync", "group", "receipt", "retry", "notification", "presence"),
    *("client", "connection", "login", "prekeys"),
)
"""Named so the rule reads plainly; :data:`SIMULATOR_MAY_USE` alone already excludes them."""


def simulator_import_violations(path: Path, root: Path) -> list[str]:
    """What ``path`` imports of ``mautrix_whatsapp`` beyond the primitives, in dotted form."""
    bad = []
    for name in runtime_imports(path, root):
        dotted = name.removeprefix("<absolute>")
        if not name.startswith("<absolute>") or dotted.split(".")[0] != "mautrix_whatsapp":
            continue
        if not dotted.startswith(CLIENT + ".") and dotted != CLIENT:
            bad.append(dotted)  # the bridge
            continue
        inner = dotted.removeprefix(CLIENT).removeprefix(".")
        allowed = any(
            inner == use or inner.startswith(use + ".") or use.startswith(inner + ".") or not inner
            for use in SIMULATOR_MAY_USE
        )
        if not allowed or inner.split(".")[0] in CLIENT_LOGIC:
            bad.append(dotted)
    return sorted(bad)


def test_the_simulator_uses_only_the_librarys_primitives() -> None:
    files = list(SIMULATOR.rglob("*.py"))
    assert {"pairing.py", "phone.py", "login.py", "connection.py"} <= {p.name for p in files}
    for path in files:
        assert simulator_import_violations(path, SIMULATOR) == [], path
    # The check sees the primitives the simulator does use.
    uses = {n for p in files for n in runtime_imports(p, SIMULATOR) if CLIENT in n}
    assert f"<absolute>{CLIENT}.crypto.xeddsa" in uses and f"<absolute>{CLIENT}.binary" in uses


@pytest.mark.parametrize(
    "source",
    [
        *(f"from mautrix_whatsapp.whatsapp import {module}" for module in CLIENT_LOGIC),
        *(f"from mautrix_whatsapp.whatsapp.{module} import x" for module in CLIENT_LOGIC),
        *(f"import mautrix_whatsapp.whatsapp.{module}" for module in CLIENT_LOGIC),
        "from mautrix_whatsapp.whatsapp import pair_code as crypto",
        "from mautrix_whatsapp.whatsapp.socket.framesocket import FrameSocket",
        "from mautrix_whatsapp.whatsapp import Client",
        "from mautrix_whatsapp.user import User",
        "import mautrix_whatsapp.portal",
    ],
)
def test_client_logic_in_the_simulator_is_caught(tmp_path: Path, source: str) -> None:
    module = tmp_path / "phone.py"
    module.write_text(f"from __future__ import annotations\n\n{source}\n")
    assert simulator_import_violations(module, tmp_path)
    # The same names under TYPE_CHECKING never run, and are fine.
    module.write_text(f"from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    {source}\n")
    assert simulator_import_violations(module, tmp_path) == []


def test_primitives_in_the_simulator_pass(tmp_path: Path) -> None:
    module = tmp_path / "phone.py"
    module.write_text(
        "from mautrix_whatsapp.whatsapp.binary import Node\n"
        "from mautrix_whatsapp.whatsapp.crypto import KeyPair, xeddsa\n"
        "from mautrix_whatsapp.whatsapp.proto import wa_adv_pb2\n"
        "from mautrix_whatsapp.whatsapp.signal.padding import pad\n"
        "from mautrix_whatsapp.whatsapp.socket.noise_handshake import CipherPair\n"
        "from .accounts import Account\n"
    )
    assert simulator_import_violations(module, tmp_path) == []
