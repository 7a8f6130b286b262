"""``<call>`` stanzas (whatsapp/call.py): what WhatsApp's server sends for a ringing call, in
the shape whatsmeow's call.go reads, through the real binary codec; acks and events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mautrix_whatsapp.whatsapp.binary.decoder import unmarshal
from mautrix_whatsapp.whatsapp.binary.encoder import marshal
from mautrix_whatsapp.whatsapp.binary.errors import BinaryError
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.call import CallOffer, CallTerminate, install, parse_call

CALLER = JID.parse("15551234567@s.whatsapp.net")
CALLER_DEVICE = JID.parse("15551234567:12@s.whatsapp.net")
T = 1_700_000_000


def _wire(node: Node) -> Node:
    """The node as it arrives: encoded by the codec, then decoded from those bytes."""
    return unmarshal(marshal(node))


def _offer(child_tag: str = "offer", **child_attrs: Any) -> Node:
    attrs: dict[str, Any] = {
        "call-creator": CALLER_DEVICE,
        "call-id": "B2A4F8E61C03D9A7E5F1",
        **child_attrs,
    }
    content = [
        Node("privacy", None, b"\x01\x02\x03"),
        Node("audio", {"enc": "opus", "rate": "16000"}),
        Node("audio", {"enc": "opus", "rate": "8000"}),
        Node("net", {"medium": "3"}),
        Node("capability", {"ver": "1"}, b"\x01\x05\xf7\x09\xe4\xbb\x13"),
        Node("encopt", {"keygen": "2"}),
        Node("enc", {"type": "pkmsg", "v": "2"}, b"\x33" * 40),
    ]
    return Node(
        "call",
        {
            "from": CALLER,
            "id": "7F3A0C55D1E2B4960C8D",
            "t": str(T),
            "platform": "android",
            "version": "2.24.6.77",
            "notify": "Bob",
        },
        [Node(child_tag, attrs, content)],
    )


def test_offer_from_the_wire() -> None:
    event = parse_call(_wire(_offer(caller_lid=JID.parse("100000000000042@lid"))))
    assert event == CallOffer(
        sender=CALLER,
        timestamp=datetime.fromtimestamp(T, UTC),
        call_creator=CALLER_DEVICE,
        call_id="B2A4F8E61C03D9A7E5F1",
        call_creator_alt=JID.parse("100000000000042@lid"),
    )


def test_group_call_offer_notice() -> None:
    group = JID.parse("120363025246125888@g.us")
    node = _offer("offer_notice", media="video", type="group", **{"group-jid": group})
    event = parse_call(_wire(node))
    assert isinstance(event, CallOffer)
    assert (event.is_notice, event.media, event.type, event.group) == (
        True,
        "video",
        "group",
        group,
    )


def test_terminate_and_ignored_kinds() -> None:
    terminate = Node(
        "call",
        {"from": CALLER, "id": "X1", "t": str(T)},
        [Node("terminate", {"call-creator": CALLER_DEVICE, "call-id": "C1", "reason": "timeout"})],
    )
    event = parse_call(_wire(terminate))
    assert isinstance(event, CallTerminate)
    assert (event.call_id, event.reason) == ("C1", "timeout")
    assert parse_call(_wire(_offer("relaylatency"))) is None
    assert parse_call(_wire(_offer("accept"))) is None


@pytest.mark.parametrize(
    "node",
    [
        Node("call", {"from": CALLER, "id": "X", "t": str(T)}),  # no child
        Node("call", {"from": CALLER, "id": "X", "t": str(T)}, [Node("offer"), Node("offer")]),
        Node("call", {"from": CALLER, "id": "X", "t": str(T)}, [Node("offer", {"call-id": "C"})]),
        Node("call", {"id": "X", "t": str(T)}, [Node("offer", {"call-id": "C"})]),
    ],
)
def test_malformed_calls_raise_binary_errors(node: Node) -> None:
    with pytest.raises(BinaryError):
        parse_call(node)


class _FakeClient:
    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}
        self.sent: list[Node] = []
        self.events: list[object] = []

    def add_node_handler(self, tag: str, handler: Any) -> None:
        self.handlers[tag] = handler

    async def send_node(self, node: Node) -> None:
        self.sent.append(node)

    async def dispatch(self, event: object) -> None:
        self.events.append(event)


async def test_installed_handler_acks_every_call_and_dispatches_offers() -> None:
    client = _FakeClient()
    install(client)  # type: ignore[arg-type]
    handler = client.handlers["call"]
    await handler(_wire(_offer()))
    await handler(Node("call", {"from": CALLER, "id": "BAD1", "t": str(T)}))  # malformed
    assert [(n.tag, n.attrs["class"], n.attrs["id"]) for n in client.sent] == [
        ("ack", "call", "7F3A0C55D1E2B4960C8D"),
        ("ack", "call", "BAD1"),
    ]
    assert client.sent[0].attrs["to"] == CALLER
    assert len(client.events) == 1 and isinstance(client.events[0], CallOffer)
