"""Receiving through the real simulator: a simulated phone (its admin "send") writes to our
linked client, which decrypts, emits the Message event and answers with a delivery receipt;
our own phone's messages arrive as device-sent messages."""

from __future__ import annotations

from typing import Any

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import Message, UndecryptableMessage
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, admin, link_by_qr, make_client

from .message_peer import Peer, client_bundle, enc, stanza, text

OURS = "15550007001"
BOB = "15550007002"


async def _send(info: SimulatorInfo, phone: str, body: dict[str, Any]) -> str:
    status, answer = await admin(info, "POST", f"/accounts/{phone}/send", body)
    assert status == 200, answer
    return str(answer["id"])


async def _message(log: EventLog, message_id: str, count: int) -> Message:
    """The ``count``-th Message event, which must be ``message_id``."""
    event = await log.wait_for(Message, count=count)
    assert event.info.id == message_id
    return event


async def _linked(info: SimulatorInfo) -> tuple[Client, EventLog]:
    await admin(info, "POST", "/accounts", {"phone": OURS, "push_name": "Me", "default": True})
    status, bob = await admin(info, "POST", "/accounts", {"phone": BOB, "push_name": "Bob"})
    assert status == 200, bob
    client, _store, log = make_client(info)
    await link_by_qr(info, client, log)
    return client, log


def _raw(node: Node) -> dict[str, Any]:
    """A node in the simulator's raw-stanza JSON."""
    attrs = {k: {"jid": str(v)} if isinstance(v, JID) else v for k, v in node.attrs.items()}
    raw: dict[str, Any] = {"tag": node.tag, "attrs": attrs}
    if isinstance(node.content, bytes):
        raw["content"] = {"hex": node.content.hex()}
    elif isinstance(node.content, list):
        raw["content"] = [_raw(child) for child in node.content]
    elif node.content is not None:
        raw["content"] = str(node.content)
    return raw


async def test_bad_messages_on_the_wire_leave_the_connection_up(
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    """Malformed and undecryptable stanzas over the real socket: nacks and retry receipts, and
    the valid message after them still arrives on the same connection."""
    client, log = await _linked(simulator)
    try:
        assert client.device.jid is not None
        bob = Peer(JID(BOB, "s.whatsapp.net", 0), target=client.device.jid)
        await bob.start(await client_bundle(client))
        valid = await bob.dm(text("after the junk"))
        junk = [
            Node("message", {"from": JID(BOB, "s.whatsapp.net"), "t": "1"}, []),  # no id
            stanza(JID(BOB, "s.whatsapp.net"), [enc("msg", b"\x33not a signal message")]),
            stanza(JID(BOB, "s.whatsapp.net"), [enc("pkmsg", b"")]),
            stanza(JID("120363000000000077", "g.us"), [enc("skmsg", b"\x33" * 80)]),
            stanza(JID(BOB, "s.whatsapp.net"), [Node("enc", {"type": "msg"}, [Node("x")])]),
        ]
        status, answer = await admin(
            simulator,
            "POST",
            "/devices/raw",
            {"jid": str(client.device.jid), "nodes": [_raw(n) for n in [*junk, valid]]},
        )
        assert status == 200, answer
        event = await log.wait_for(Message)
        assert event.message.conversation == "after the junk"
        undecryptable = log.of(UndecryptableMessage)
        assert len(undecryptable) == 3, undecryptable
        assert client.is_connected
    finally:
        await client.disconnect()
