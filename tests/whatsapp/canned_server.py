"""An offline client whose IQs are answered by a test function (no tests of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from tests.whatsapp.test_client_helpers import offline_client

Answer = Callable[[Node], Node | None]


def result(request: Node, *children: Node, **attrs: str) -> Node:
    """The ``result`` IQ for ``request`` with ``children``."""
    reply_attrs = {"id": str(request.attrs["id"]), "type": "result", "from": "g.us", **attrs}
    return Node("iq", reply_attrs, list(children) or None)


def error(request: Node, code: int, text: str = "error") -> Node:
    """The ``error`` IQ for ``request``."""
    reply_attrs = {"id": str(request.attrs["id"]), "type": "error", "from": "g.us"}
    return Node("iq", reply_attrs, [Node("error", {"code": str(code), "text": text})])


class CannedServer:
    """Collects what the client sends; answers each IQ with ``answer(request)`` (None: silence).

    ``answers`` is a queue of answer functions, one per IQ, so a test scripts a conversation.
    """

    def __init__(self, own: JID | None = None, own_lid: JID | None = None) -> None:
        self.client, _, self.log, self.sent = offline_client()
        self.client.device.jid = own
        self.client.device.lid = own_lid
        self.answers: list[Answer] = []
        self.iqs: list[Node] = []
        self.client.send_node = self._send  # type: ignore[method-assign]

    async def _send(self, node: Node) -> None:
        self.sent.append(node)
        if node.tag != "iq" or node.attrs.get("type") not in ("get", "set"):
            return
        self.iqs.append(node)
        if not self.answers:
            raise AssertionError(f"unexpected IQ {node!r}")
        reply = self.answers.pop(0)(node)
        if reply is not None:
            requests = self.client._requests
            asyncio.get_running_loop().call_soon(requests.resolve, reply)

    def expect(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    async def feed(self, node: Node) -> None:
        """Hand ``node`` to the client as if it came from the socket; it must not end it."""
        verdict = await self.client._handle_node(node)
        assert verdict is None, f"{node!r} ended the connection: {verdict}"
