"""Presence and chat state: what the client sends, and incoming stanzas as events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mautrix_whatsapp.whatsapp import presence
from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.events import ChatPresence, Presence
from mautrix_whatsapp.whatsapp.presence import ChatState, ChatStateMedia, NoPushNameError
from tests.whatsapp.canned_server import CannedServer

ALICE = JID.parse("15550001111@s.whatsapp.net")
ALICE_DEVICE = JID.parse("15550001111:3@s.whatsapp.net")
GROUP = JID.parse("120363025246125888@g.us")
ME = JID.parse("15550009999:7@s.whatsapp.net")
ME_LID = JID.parse("4455667788:7@lid")


@pytest.fixture
def server() -> CannedServer:
    return CannedServer(own=ME, own_lid=ME_LID)


async def test_send_presence_needs_push_name(server: CannedServer) -> None:
    with pytest.raises(NoPushNameError):
        await presence.send_presence(server.client, available=True)
    assert server.sent == []
    server.client.device.push_name = "Me"
    await presence.send_presence(server.client, available=True)
    await presence.send_presence(server.client, available=False)
    assert [(n.tag, n.attrs) for n in server.sent] == [
        ("presence", {"type": "available", "name": "Me"}),
        ("presence", {"type": "unavailable", "name": "Me"}),
    ]


async def test_subscribe_presence(server: CannedServer) -> None:
    await presence.subscribe_presence(server.client, ALICE_DEVICE)
    await presence.subscribe_presence(server.client, ALICE, token=b"tc")
    plain, with_token = server.sent
    assert plain.attrs == {"type": "subscribe", "to": ALICE} and plain.content is None
    assert with_token.children[0].tag == "tctoken" and with_token.children[0].content == b"tc"


async def test_send_chat_presence(server: CannedServer) -> None:
    client = server.client
    await presence.send_chat_presence(client, ALICE, ChatState.COMPOSING)
    await presence.send_chat_presence(client, GROUP, ChatState.COMPOSING, ChatStateMedia.AUDIO)
    await presence.send_chat_presence(client, ALICE, ChatState.PAUSED, ChatStateMedia.AUDIO)
    typing, recording, paused = server.sent
    assert typing.tag == "chatstate" and typing.attrs == {"to": ALICE}
    assert typing.children[0].tag == "composing" and typing.children[0].attrs == {}
    assert recording.attrs == {"to": GROUP}
    assert recording.children[0].attrs == {"media": "audio"}
    assert paused.children[0].tag == "paused" and paused.children[0].attrs == {}


async def test_incoming_presence(server: CannedServer) -> None:
    await server.feed(Node("presence", {"from": ALICE}))
    await server.feed(
        Node("presence", {"from": ALICE, "type": "unavailable", "last": "1700000000"})
    )
    await server.feed(Node("presence", {"from": ALICE, "type": "unavailable", "last": "deny"}))
    online, offline, hidden = server.log.of(Presence)
    assert online == Presence(sender=ALICE, unavailable=False, last_seen=None)
    assert offline.unavailable and offline.last_seen == datetime.fromtimestamp(1700000000, UTC)
    assert hidden.unavailable and hidden.last_seen is None
    assert server.sent == []  # presence stanzas are not acked


async def test_incoming_chat_state(server: CannedServer) -> None:
    await server.feed(Node("chatstate", {"from": ALICE_DEVICE}, [Node("composing")]))
    await server.feed(
        Node(
            "chatstate",
            {"from": GROUP, "participant": ALICE_DEVICE},
            [Node("composing", {"media": "audio"})],
        )
    )
    await server.feed(Node("chatstate", {"from": GROUP, "participant": ME}, [Node("paused")]))
    typing, recording, own = server.log.of(ChatPresence)
    assert typing == ChatPresence(
        chat=ALICE, sender=ALICE_DEVICE, is_from_me=False, is_group=False, state="composing"
    )
    assert recording.chat == GROUP and recording.sender == ALICE_DEVICE and recording.is_group
    assert recording.media == "audio"
    assert own.is_from_me and own.state == "paused"


MALFORMED = [
    Node("presence"),
    Node("presence", {"from": "not a jid"}),
    Node("presence", {"from": ALICE, "type": "weird"}),
    Node("presence", {"from": ALICE, "type": "unavailable", "last": "yesterday"}),
    Node("chatstate", {"from": ALICE}),
    Node("chatstate", {"from": ALICE}, [Node("composing"), Node("paused")]),
    Node("chatstate", {"from": ALICE}, [Node("dancing")]),
    Node("chatstate", {"from": GROUP}, [Node("composing")]),
    Node("chatstate", {}, [Node("composing")]),
    Node("chatstate", {"from": ALICE}, [Node("composing", {"media": ALICE})]),
]


@pytest.mark.parametrize("node", MALFORMED, ids=repr)
async def test_malformed_stanzas_are_dropped(server: CannedServer, node: Node) -> None:
    await server.feed(node)
    assert server.log.of(Presence) == [] and server.log.of(ChatPresence) == []
    await server.feed(Node("chatstate", {"from": ALICE}, [Node("paused")]))
    await server.feed(Node("presence", {"from": ALICE}))
    assert len(server.log.of(Presence)) == 1 and len(server.log.of(ChatPresence)) == 1
