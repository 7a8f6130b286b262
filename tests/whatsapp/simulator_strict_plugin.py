"""A simulator plugin for test_simulator_robustness: handlers that insist on a stanza's shape,
and one with a deliberate bug, so the tests can show what each kind of failure costs.

Loaded into the simulator subprocess with ``--plugin tests.whatsapp.simulator_strict_plugin``.
"""

from __future__ import annotations

from mautrix_whatsapp.whatsapp.binary import Node
from tests.simulator.connection import Connection, iq_result
from tests.simulator.state import ServerState

STRICT_XMLNS = "test:strict"
BROKEN_XMLNS = "test:broken"
STRICT_TAG = "test-strict"


async def handle_strict_iq(conn: Connection, node: Node) -> Node:
    """Needs ``<item n="<integer>"/>``; answers ``<item n="n+1"/>``."""
    number = node.get_child_by_tag("item").attr_int("n")
    return iq_result(node, [Node("item", {"n": str(number + 1)})])


async def handle_broken_iq(conn: Connection, node: Node) -> Node:
    raise RuntimeError("a deliberate simulator bug")


async def handle_strict_stanza(conn: Connection, node: Node) -> None:
    """Needs ``to`` to be a JID; answers ``<test-strict-ok to=…/>``."""
    await conn.send_node(Node(f"{STRICT_TAG}-ok", {"to": node.attr_jid("to")}))


def install(state: ServerState) -> None:
    state.iq_handlers.register(STRICT_XMLNS, handle_strict_iq, type="get")
    state.iq_handlers.register(BROKEN_XMLNS, handle_broken_iq)
    state.stanza_handlers.register(STRICT_TAG, handle_strict_stanza)
