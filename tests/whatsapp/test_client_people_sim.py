"""Presence, chat state and device/identity notifications between our client and the
simulator's people; garbage of each kind sent to our client does not end its connection."""

from __future__ import annotations

from typing import Any

import pytest

from mautrix_whatsapp.whatsapp import presence
from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import (
    ChatPresence,
    DevicesChanged,
    Disconnected,
    GroupInfoChanged,
    IdentityChanged,
    Presence,
)
from mautrix_whatsapp.whatsapp.presence import ChatState, ChatStateMedia
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.raw_device import linked_raw_device
from tests.whatsapp.test_client_groups_sim import BOB, ME, linked, pn, wait_match  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, admin

pytestmark = pytest.mark.timeout(90)


async def test_presence_and_typing_both_ways(
    simulator: SimulatorInfo,  # noqa: F811
    linked: tuple[Client, EventLog],  # noqa: F811
) -> None:
    client, log = linked
    bob = await linked_raw_device(simulator, BOB, "Bob")
    try:
        client.device.push_name = "Me"
        await presence.send_presence(client, available=True)
        await presence.subscribe_presence(client, pn(BOB))
        seen = await wait_match(log, Presence, lambda e: e.sender.user == BOB)
        assert seen.sender == pn(BOB)

        status, body = await admin(
            simulator,
            "POST",
            f"/accounts/{BOB}/typing",
            {"chat": str(pn(ME)), "state": "recording"},
        )
        assert status == 200, body
        typing = await wait_match(log, ChatPresence, lambda e: e.sender.user == BOB)
        assert typing.chat == pn(BOB) and not typing.is_group and not typing.is_from_me
        assert (typing.state, typing.media) == ("composing", "audio")

        await presence.send_chat_presence(
            client, pn(BOB), ChatState.COMPOSING, ChatStateMedia.AUDIO
        )
        received = await bob.next("chatstate")
        assert JID.parse(str(received.attrs["from"])).user == ME
        assert received.children[0].tag == "composing"
        assert received.children[0].attrs.get("media") == "audio"
    finally:
        await bob.close()


def usync_devices(user: JID) -> Node:
    attrs = {"sid": "1.1-1", "mode": "query", "last": "true", "index": "0", "context": "message"}
    query = Node("query", None, [Node("devices", {"version": "2"})])
    return Node("usync", attrs, [query, Node("list", None, [Node("user", {"jid": user})])])


async def test_devices_and_identity_notifications(
    simulator: SimulatorInfo,  # noqa: F811
    linked: tuple[Client, EventLog],  # noqa: F811
) -> None:
    client, log = linked
    invalidated: list[JID] = []
    client.device_list_invalidators.append(invalidated.append)

    # A second companion of our own account: we hear of its device.
    second = await linked_raw_device(simulator, ME, "Me")
    try:
        event = await wait_match(log, DevicesChanged, lambda e: e.user == pn(ME))
        (change,) = event.changes
        assert change.action == "add" and change.devices == (second.device.jid,)
        assert change.device_hash.startswith("2:") and event.lid is not None
        assert invalidated == [pn(ME), event.lid]
    finally:
        await second.close()

    # Bob's identity changes after we fetched his devices: his sessions go.
    await client.send_iq("usync", "get", [usync_devices(pn(BOB))])
    bob_session = SignalAddress(BOB, 0)
    await client.signal_store.store_session(bob_session, b"old session")
    await client.signal_store.save_identity(bob_session, bytes(32))
    status, body = await admin(simulator, "POST", f"/accounts/{BOB}/reset-identity", {})
    assert status == 200 and body["notified"] >= 1, body
    changed = await wait_match(log, IdentityChanged, lambda e: e.jid == pn(BOB))
    assert changed.timestamp is not None
    assert await client.signal_store.load_session(bob_session) is None
    assert await client.signal_store.get_identity(bob_session) is None


def _node(tag: str, attrs: dict[str, Any], content: Any = None) -> dict[str, Any]:
    node: dict[str, Any] = {"tag": tag, "attrs": attrs}
    if content is not None:
        node["content"] = content
    return node


async def test_garbage_does_not_end_the_connection(
    simulator: SimulatorInfo,  # noqa: F811
    linked: tuple[Client, EventLog],  # noqa: F811
) -> None:
    client, log = linked
    assert client.device.jid is not None
    group = {"jid": "120363000000000001@g.us"}
    bob = {"jid": str(pn(BOB))}
    garbage = [
        _node(
            "notification",
            {"id": "g1", "type": "w:gp2", "from": group, "t": "soon"},
            [_node("locked", {})],
        ),
        _node(
            "notification",
            {"id": "g2", "type": "w:gp2", "from": group, "t": "1"},
            [_node("subject", {})],
        ),
        _node("notification", {"id": "g3", "type": "devices", "from": group}, [_node("add", {})]),
        _node(
            "notification", {"id": "g4", "type": "encrypt", "from": group}, [_node("identity", {})]
        ),
        _node("notification", {"id": "g5", "type": "picture"}, [_node("set", {"jid": "x"})]),
        _node("presence", {"from": bob, "type": "sideways"}),
        _node("presence", {"from": bob, "last": "yesterday"}),
        _node("chatstate", {"from": bob}, []),
        _node("chatstate", {"from": group}, [_node("composing", {})]),
    ]
    valid = _node(
        "notification",
        {"id": "ok1", "type": "w:gp2", "from": group, "t": "1700000000"},
        [_node("locked", {})],
    )
    status, body = await admin(
        simulator,
        "POST",
        "/devices/raw",
        {"jid": str(client.device.jid), "nodes": [*garbage, valid]},
    )
    assert status == 200 and body["sent"] == len(garbage) + 1, body
    event = await log.wait_for(GroupInfoChanged)
    assert event.locked is True and event.jid == JID.parse(group["jid"])
    assert log.of(GroupInfoChanged) == [event]
    assert log.of(Presence) == [] and log.of(ChatPresence) == []
    assert log.of(DevicesChanged) == [] and log.of(IdentityChanged) == []
    assert log.of(Disconnected) == [] and client.is_logged_in
    acks = (await admin(simulator, "GET", f"/devices/{client.device.jid}/acks"))[1]["acks"]
    acked = {a["id"] for a in acks}
    assert {"g1", "g2", "g3", "g4", "g5", "ok1"} <= acked
