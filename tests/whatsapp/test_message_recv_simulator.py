"""Receiving through the real simulator: a simulated phone (its admin "send") writes to our
linked client, which decrypts, emits the Message event and answers with a delivery receipt;
our own phone's messages arrive as device-sent messages."""

from __future__ import annotations

import asyncio
from typing import Any

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import (
    IdentityChanged,
    Message,
    OfflineSyncCompleted,
    UndecryptableMessage,
)
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, admin, link_by_qr, make_client

from .message_peer import Peer, client_bundle, enc, stanza, text

OURS = "15550007001"
BOB = "15550007002"


async def _send(info: SimulatorInfo, phone: str, body: dict[str, Any]) -> str:
    status, answer = await admin(info, "POST", f"/accounts/{phone}/send", body)
    assert status == 200, answer
    return str(answer["id"])


async def _message(log: EventLog, message_id: str) -> Message:
    """The Message event of ``message_id`` (others, such as the phone's history-sync peer
    message, may come between)."""
    count = 1
    while True:
        event = await log.wait_for(Message, count=count)
        if event.info.id == message_id:
            return event
        count += 1


def _from(log: EventLog, user: str) -> list[Message]:
    return [e for e in log.of(Message) if e.info.sender.user == user]


async def _receipts_at(info: SimulatorInfo, phone: str, wanted: set[str]) -> set[str]:
    """The ids of receipts ``phone`` received, once ``wanted`` are among them (10 s at most)."""
    async with asyncio.timeout(10):
        while True:
            status, received = await admin(info, "GET", f"/accounts/{phone}/received")
            assert status == 200, received
            # Delivery receipts: no type, or "inactive" before we announced ourselves.
            deliveries = [r for r in received["receipts"] if r["type"] in ("", "inactive")]
            ids = {i for r in deliveries for i in r["ids"]}
            if wanted <= ids:
                return ids
            await asyncio.sleep(0.05)


async def _linked(info: SimulatorInfo) -> tuple[Client, EventLog]:
    await admin(info, "POST", "/accounts", {"phone": OURS, "push_name": "Me", "default": True})
    status, bob = await admin(info, "POST", "/accounts", {"phone": BOB, "push_name": "Bob"})
    assert status == 200, bob
    client, _store, log = make_client(info)
    await link_by_qr(info, client, log)
    return client, log


async def test_phone_dm_reaches_our_client(simulator: SimulatorInfo) -> None:  # noqa: F811
    client, log = await _linked(simulator)
    try:
        first = await _send(simulator, BOB, {"to": OURS, "text": "hello from Bob"})
        event = await _message(log, first)
        assert event.message.conversation == "hello from Bob"
        info = event.info
        assert info.sender.user == BOB and info.chat == JID(BOB, "s.whatsapp.net")
        assert not info.is_from_me and not info.is_group

        second = await _send(
            simulator, BOB, {"to": OURS, "text": "and a reply", "reply_to": {"id": first}}
        )
        event = await _message(log, second)
        assert event.message.extendedTextMessage.text == "and a reply"
        assert event.message.extendedTextMessage.contextInfo.stanzaID == first

        # Our own phone writes to Bob: our client sees it as ours, in Bob's chat.
        own = await _send(simulator, OURS, {"to": BOB, "text": "sent from my phone"})
        event = await _message(log, own)
        assert event.message.conversation == "sent from my phone"
        assert event.info.is_from_me and event.info.chat.user == BOB
        assert event.info.device_sent_destination is not None

        # Bob's phone gets our delivery receipts for both of its messages.
        assert {first, second} <= await _receipts_at(simulator, BOB, {first, second})
        assert not log.of(UndecryptableMessage)
    finally:
        await client.disconnect()


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


async def _bob_peer(client: Client) -> Peer:
    """Bob's phone as a test-side Signal peer with a session to our client's device."""
    assert client.device.jid is not None
    bob = Peer(JID(BOB, "s.whatsapp.net", 0), target=client.device.jid)
    await bob.start(await client_bundle(client))
    return bob


async def _post_raw(info: SimulatorInfo, client: Client, nodes: list[Node]) -> None:
    """Have the simulator write ``nodes`` to our client's connection as they are."""
    status, answer = await admin(
        info,
        "POST",
        "/devices/raw",
        {"jid": str(client.device.jid), "nodes": [_raw(n) for n in nodes]},
    )
    assert status == 200, answer


async def test_bad_messages_on_the_wire_leave_the_connection_up(
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    """Malformed and undecryptable stanzas over the real socket: nacks and retry receipts, and
    the valid message after them still arrives on the same connection."""
    client, log = await _linked(simulator)
    try:
        bob = await _bob_peer(client)
        valid = await bob.dm(text("after the junk"))
        junk = [
            Node("message", {"from": JID(BOB, "s.whatsapp.net"), "t": "1"}, []),  # no id
            stanza(JID(BOB, "s.whatsapp.net"), [enc("msg", b"\x33not a signal message")]),
            stanza(JID(BOB, "s.whatsapp.net"), [enc("pkmsg", b"")]),
            stanza(JID("120363000000000077", "g.us"), [enc("skmsg", b"\x33" * 80)]),
            stanza(JID(BOB, "s.whatsapp.net"), [Node("enc", {"type": "msg"}, [Node("x")])]),
        ]
        await _post_raw(simulator, client, [*junk, valid])
        # Bob's first message (our phone's history syncs at login are messages too).
        count = 1
        while (event := await log.wait_for(Message, count=count)).info.sender.user != BOB:
            count += 1
        assert event.message.conversation == "after the junk"
        undecryptable = log.of(UndecryptableMessage)
        assert len(undecryptable) == 3, undecryptable
        assert client.is_connected
    finally:
        await client.disconnect()


async def test_offline_queue_arrives_in_order_once(simulator: SimulatorInfo) -> None:  # noqa: F811
    """Messages sent while our client is away are delivered at its next login, flagged
    offline, in order, each once and each receipted, before what is sent live after."""
    client, log = await _linked(simulator)
    try:
        first = await _send(simulator, BOB, {"to": OURS, "text": "while online"})
        await _message(log, first)
        await client.disconnect()
        queued = [await _send(simulator, BOB, {"to": OURS, "text": f"q{i}"}) for i in range(40)]
        await client.connect()
        await log.wait_for(OfflineSyncCompleted)
        live = await _send(simulator, BOB, {"to": OURS, "text": "live again"})
        await _message(log, live)
        events = _from(log, BOB)
        assert [e.info.id for e in events] == [first, *queued, live]
        assert [e.message.conversation for e in events[1:-1]] == [f"q{i}" for i in range(40)]
        assert all(e.info.offline for e in events[1:-1]) and not events[-1].info.offline
        assert set(queued) <= await _receipts_at(simulator, BOB, set(queued))
    finally:
        await client.disconnect()


async def test_contact_reinstall_is_trusted(simulator: SimulatorInfo) -> None:  # noqa: F811
    """Bob's phone gets a new identity key: his next message (a pkmsg under the new key) is
    decrypted, the new key trusted and the change reported."""
    client, log = await _linked(simulator)
    try:
        first = await _send(simulator, BOB, {"to": OURS, "text": "old phone"})
        await _message(log, first)
        status, answer = await admin(simulator, "POST", f"/accounts/{BOB}/reset-identity")
        assert status == 200, answer
        second = await _send(simulator, BOB, {"to": OURS, "text": "new phone"})
        event = await _message(log, second)
        assert event.message.conversation == "new phone"
        # The simulator names Bob's LID: the session (and the change, as whatsmeow) is the LID's.
        lid = event.info.sender_alt
        assert event.info.sender.user == BOB and lid is not None and lid.is_lid
        change = await log.wait_for(IdentityChanged)
        assert change.jid == lid.to_non_ad()
        address = SignalAddress(*lid.signal_address)
        identity = await client.signal_store.get_identity(address)
        assert identity is not None and identity.hex() == answer["identity_public"]
        assert not log.of(UndecryptableMessage)
    finally:
        await client.disconnect()
