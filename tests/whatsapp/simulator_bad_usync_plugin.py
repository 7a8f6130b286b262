"""A simulator plugin for test_malformed_messaging_sim: usync answers that are malformed on
purpose, for queries that name one of the :data:`BAD_ANSWERS` phone numbers; every other query
gets the simulator's real answer.

Loaded into the simulator subprocess with ``--plugin tests.whatsapp.simulator_bad_usync_plugin``.
"""

from __future__ import annotations

from collections.abc import Callable

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from tests.simulator.connection import Connection, iq_result
from tests.simulator.state import IQHandler, ServerState

PN = "s.whatsapp.net"


def _usync(node: Node, *users: Node) -> Node:
    return iq_result(node, [Node("usync", {"last": "true"}, [Node("list", {}, list(users))])])


def _devices(user: str, *devices: dict[str, str]) -> Node:
    listed = Node("device-list", {}, [Node("device", d) for d in devices])
    return Node("user", {"jid": JID(user, PN)}, [Node("devices", {}, [listed])])


BAD_ANSWERS: dict[str, Callable[[Node, str], Node]] = {
    "15550990000": lambda node, user: iq_result(node, []),  # no <usync>
    "15550990001": lambda node, user: iq_result(node, [Node("usync", {}, b"junk")]),
    "15550990002": lambda node, user: iq_result(
        node, [Node("usync", {}, [Node("list", {}, b"x")])]
    ),
    "15550990003": lambda node, user: _usync(node, Node("user", {}, [])),  # user without jid
    "15550990004": lambda node, user: _usync(node, Node("user", {"jid": "not-a-jid"})),
    "15550990005": lambda node, user: _usync(node, _devices(user, {"id": "x"})),
    "15550990006": lambda node, user: _usync(node, _devices(user, {"id": "70000"})),
    "15550990007": lambda node, user: _usync(
        node,
        Node(
            "user", {"jid": JID(user, PN)}, [Node("devices", {}, [Node("error", {"code": "500"})])]
        ),
    ),
    "15550990008": lambda node, user: _usync(
        node, Node("user", {"jid": JID(user, PN)}, [Node("lid", {"val": JID("5", PN)})])
    ),
    "15550990009": lambda node, user: _usync(
        node, Node("user", {"jid": JID(user, PN)}, [Node("contact", {"type": "in"}, [Node("x")])])
    ),
}

WITHOUT_LIST = {"15550990000", "15550990001"}
"""The answers with no ``<usync><list>`` at all (the rest have a list with a broken entry)."""


def _asked_users(node: Node) -> list[str]:
    listed = node.get_child_by_tag("usync").get_child_by_tag("list")
    users = []
    for user in listed.children_by_tag("user"):
        jid = user.attrs.get("jid")
        if isinstance(jid, JID):
            users.append(jid.user)
        for contact in user.children_by_tag("contact"):
            if isinstance(contact.content, (str, bytes)):
                text = (
                    contact.content.decode()
                    if isinstance(contact.content, bytes)
                    else contact.content
                )
                users.append(text.lstrip("+"))
    return users


def install(state: ServerState) -> None:
    real: IQHandler | None = state.iq_handlers.find("usync", "get", "usync")
    assert real is not None, "the usync plugin must be installed first"

    async def handle(conn: Connection, node: Node) -> Node | None:
        for user in _asked_users(node):
            if user in BAD_ANSWERS:
                return BAD_ANSWERS[user](node, user)
        return await real(conn, node)

    state.iq_handlers.register("usync", handle, type="get", child="usync", replace=True)
