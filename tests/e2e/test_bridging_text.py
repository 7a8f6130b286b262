"""Plain text through the bridge, end to end: Baileys as the contact, a real Synapse, the bridge
as a process, the simulator with TLS and the bridge user's simulated phone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.baileys_peer import BaileysPeer, text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.helpers import linked_user, sim_admin
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, run_simulator

ALICE = "15550002001"
TIMEOUT = 60.0


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorInfo]:
    """The bridge and Baileys talk to a TLS simulator (as media will need)."""
    with run_simulator(tmp_path / "simulator-tls", tls=True) as info:
        yield info


def _text(body: str) -> Any:
    def match(event: Event) -> bool:
        content = event.get("content", {})
        return event.get("type") == "m.room.message" and content.get("body") == body

    return match


def _ghosts(synapse: SynapseInfo, peer: BaileysPeer) -> set[str]:
    """The Matrix ids that may stand for ``peer`` (phone-number or LID ghost)."""
    ids = {f"@whatsapp_{peer.jid.split('@')[0]}:{synapse.server_name}"}
    if peer.lid:
        ids.add(f"@whatsapp_lid-{peer.lid.split('@')[0]}:{synapse.server_name}")
    return ids


World = tuple[BaileysPeer, MatrixTestUser, str, str]


@pytest.fixture
async def world(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[World]:
    """Baileys as Alice, and a Matrix user linked (by QR, through the bridge) to a new
    account with a silent phone: ``(alice, user, management room, the user's phone)``."""
    async with BaileysPeer.start(
        simulator, push_name="Alice", auth_dir=tmp_path / "alice", phone=ALICE
    ) as alice:
        user, management, scan = await linked_user(
            matrix_user, synapse, simulator, silent_phone=True
        )
        yield alice, user, management, scan["phone"]


async def _portal_invite(user: MatrixTestUser, management_room: str) -> str:
    """The first room the user is invited to other than their management room."""
    room = await user.wait_for_invite(timeout=TIMEOUT)
    assert room != management_room
    return room


async def test_dm_text_both_ways(
    world: World, synapse: SynapseInfo, simulator: SimulatorInfo
) -> None:
    alice, user, management, our_phone = world

    # WhatsApp → Matrix: the first message creates the DM portal.
    sent = await alice.send(f"{our_phone}@s.whatsapp.net", {"text": "hello from WhatsApp"})
    room = await _portal_invite(user, management)
    invite = [
        e
        for e in user.invite_state(room)
        if e.get("type") == "m.room.member" and e.get("state_key") == user.user_id
    ]
    assert invite and invite[0]["content"].get("is_direct") is True
    await user.join(room)
    message = await user.wait_for_event(room, _text("hello from WhatsApp"), TIMEOUT)
    assert message["sender"] in _ghosts(synapse, alice)
    assert message["content"]["msgtype"] == "m.text"
    # WhatsApp's timestamp, not the bridge's clock: whole seconds, as the server stamped the
    # message when it relayed it (``t``), at or a moment after Alice's own ``messageTimestamp``.
    stamped = message["origin_server_ts"]
    assert stamped % 1000 == 0, stamped
    assert 0 <= stamped // 1000 - int(sent["messageTimestamp"]) <= 5, stamped

    # What the user sends from their phone shows from their own ghost, in the same room.
    await sim_admin(
        simulator,
        "POST",
        f"/accounts/{our_phone}/send",
        json={"to": ALICE, "text": "sent from my phone"},
    )
    own = await user.wait_for_event(room, _text("sent from my phone"), TIMEOUT)
    assert own["sender"] == f"@whatsapp_{our_phone}:{synapse.server_name}"
    await alice.wait_message(lambda e: text_of(e) == "sent from my phone", timeout=TIMEOUT)

    # Matrix → WhatsApp, in the same portal.
    await user.send_text(room, "hello from Matrix")
    received = await alice.wait_message(
        lambda e: text_of(e) == "hello from Matrix", timeout=TIMEOUT
    )
    # A DM from the user (by phone number or LID), not a group message.
    assert received["key"]["remoteJid"].endswith(("@s.whatsapp.net", "@lid"))
    assert "participant" not in received["key"] or not received["key"]["participant"]

    # What can't be sent gets a notice with the reason, in the room (media the homeserver
    # won't serve).
    image = {"msgtype": "m.image", "body": "cat.png", "url": "mxc://example.org/cat"}
    await user.send_event(room, "m.room.message", image)
    notice = await user.wait_for_event(
        room, lambda e: e.get("content", {}).get("msgtype") == "m.notice", TIMEOUT
    )
    assert notice["content"]["body"] == (
        "Your message was not bridged: failed to download the media from Matrix: "
        "the homeserver can't serve mxc://example.org/cat (HTTP 403 Forbidden)"
    )
    assert notice["sender"] == message["sender"]

    # One portal for the chat: a second message lands in the same room, no new invite.
    await alice.send_text(f"{our_phone}@s.whatsapp.net", "second")
    await user.wait_for_event(room, _text("second"), TIMEOUT)
    texts = [
        e["content"]["body"]
        for e in user.events(room)
        if e.get("type") == "m.room.message" and e["content"].get("msgtype") == "m.text"
    ]
    assert texts == [
        "hello from WhatsApp",
        "sent from my phone",
        "hello from Matrix",
        "second",
    ]


async def test_group_text_both_ways(
    world: World, synapse: SynapseInfo, simulator: SimulatorInfo
) -> None:
    """A group the user is in: its first message makes a room named by the group's subject,
    with the group's admin (its creator) as moderator; text goes both ways."""
    alice, user, management, our_phone = world
    group = await alice.group_create("Weekend plans", [f"{our_phone}@s.whatsapp.net"])
    group_jid = group["id"]

    await alice.send_text(group_jid, "hi group")
    room = await _portal_invite(user, management)
    names = [
        e["content"].get("name") for e in user.invite_state(room) if e.get("type") == "m.room.name"
    ]
    assert names == ["Weekend plans"]
    await user.join(room)
    message = await user.wait_for_event(room, _text("hi group"), TIMEOUT)
    assert message["sender"] in _ghosts(synapse, alice)
    levels = await user.request(
        "GET", f"/_matrix/client/v3/rooms/{room}/state/m.room.power_levels/"
    )
    assert levels["users"].get(message["sender"]) == 50

    await user.send_text(room, "hello group from Matrix")
    received = await alice.wait_message(
        lambda e: text_of(e) == "hello group from Matrix", timeout=TIMEOUT
    )
    assert received["key"]["remoteJid"] == group_jid


async def test_dm_formatting_and_mentions_both_ways(
    world: World, synapse: SynapseInfo, simulator: SimulatorInfo
) -> None:
    """WhatsApp ``*bold* _it_`` and a mention become HTML with a pill and ``m.mentions``; Matrix
    ``<b>`` and a pill become ``*bold*`` and a mention WhatsApp resolves (``mentionedJid``)."""
    alice, user, management, our_phone = world
    ours = f"{our_phone}@s.whatsapp.net"
    own_ghost = f"@whatsapp_{our_phone}:{synapse.server_name}"

    await alice.send_text(ours, f"*bold* _it_ @{our_phone}", mentions=[ours])
    room = await _portal_invite(user, management)
    await user.join(room)
    message = await user.wait_for_event(
        room, lambda e: e.get("content", {}).get("body", "").startswith("*bold* _it_ "), TIMEOUT
    )
    content = message["content"]
    # The plain body names the mentioned user (here their number: their ghost has no name).
    assert content["body"] == f"*bold* _it_ {our_phone}"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"].startswith("<strong>bold</strong> <em>it</em> ")
    assert f'href="https://matrix.to/#/{own_ghost}"' in content["formatted_body"]
    assert content["m.mentions"] == {"user_ids": [own_ghost]}
    alice_ghost = message["sender"]
    assert alice_ghost in _ghosts(synapse, alice)

    pill = f'<a href="https://matrix.to/#/{alice_ghost}">Alice</a>'
    await user.send_event(
        room,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "bold Alice",
            "format": "org.matrix.custom.html",
            "formatted_body": f"<b>bold</b> {pill}",
            "m.mentions": {"user_ids": [alice_ghost]},
        },
    )
    received = await alice.wait_message(
        lambda e: (text_of(e) or "").startswith("*bold* @"), timeout=TIMEOUT
    )
    extended = received["message"]["extendedTextMessage"]
    mentioned = extended["contextInfo"]["mentionedJid"]
    assert len(mentioned) == 1 and mentioned[0] in {alice.jid, alice.lid}
    assert extended["text"] == f"*bold* @{mentioned[0].split('@')[0]}"


async def test_dm_replies_both_ways(world: World, synapse: SynapseInfo) -> None:
    """A WhatsApp quote becomes an ``m.in_reply_to`` on the bridged event; a Matrix reply to a
    bridged message reaches WhatsApp quoting it (``contextInfo.stanzaId``)."""
    alice, user, management, our_phone = world
    ours = f"{our_phone}@s.whatsapp.net"

    first = await alice.send_text(ours, "the question")
    room = await _portal_invite(user, management)
    await user.join(room)
    question = await user.wait_for_event(room, _text("the question"), TIMEOUT)
    await alice.send_text(ours, "the follow-up", quoted=first)
    follow_up = await user.wait_for_event(room, _text("the follow-up"), TIMEOUT)
    relates = follow_up["content"]["m.relates_to"]
    assert relates["m.in_reply_to"]["event_id"] == question["event_id"]

    await user.send_event(
        room,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "the answer",
            "m.relates_to": {"m.in_reply_to": {"event_id": question["event_id"]}},
        },
    )
    received = await alice.wait_message(lambda e: text_of(e) == "the answer", timeout=TIMEOUT)
    info = received["message"]["extendedTextMessage"]["contextInfo"]
    assert info["stanzaId"] == first["id"]
