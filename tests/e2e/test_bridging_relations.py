"""Edits, reactions, deletions and polls through the bridge, both ways, end to end: Baileys as
the contact, a real Synapse, the bridge as a process and the simulator with TLS."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.baileys_peer import BaileysPeer, text_of
from tests.e2e.bridge import BridgeProcess
from tests.e2e.conftest import MakeUser
from tests.e2e.dm_world import dm_world
from tests.e2e.helpers import is_redaction_of, wait_ping
from tests.e2e.matrix_client import Event, MatrixTestUser
from tests.e2e.synapse import SynapseInfo
from tests.simulator_fixture import SimulatorInfo, simulator_tls  # noqa: F401

ALICE = "15550002101"
TIMEOUT = 60.0
POLL_START = "org.matrix.msc3381.poll.start"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"
REDACTION_REFUSED = "Your redaction was not bridged: the redacted event isn't known to the bridge"
REACTION_REFUSED = "Your reaction was not bridged: the message isn't known to the bridge"


@pytest.fixture
def simulator(simulator_tls: SimulatorInfo) -> SimulatorInfo:  # noqa: F811
    """TLS, as media downloads need."""
    return simulator_tls


World = tuple[BaileysPeer, MatrixTestUser, str, str]


@pytest.fixture
async def world(
    bridge: BridgeProcess,
    synapse: SynapseInfo,
    simulator: SimulatorInfo,
    matrix_user: MakeUser,
    tmp_path: Path,
) -> AsyncIterator[World]:
    """Baileys as Alice and a linked Matrix user: ``(alice, user, management room, phone)``."""
    async for w in dm_world(synapse, simulator, matrix_user, tmp_path, alice_phone=ALICE):
        yield w.alice, w.user, w.management, w.phone


def _text(body: str) -> Callable[[Event], bool]:
    return lambda e: e.get("type") == "m.room.message" and e.get("content", {}).get("body") == body


def _relation(event_type: str, target: str, rel_type: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        relates = event.get("content", {}).get("m.relates_to", {})
        return (
            event.get("type") == event_type
            and relates.get("rel_type") == rel_type
            and relates.get("event_id") == target
        )

    return match


def _notice(body: str) -> Callable[[Event], bool]:
    return lambda e: (
        e.get("content", {}).get("msgtype") == "m.notice" and e["content"].get("body") == body
    )


def _no_selectors(text: str) -> str:
    return text.replace("\ufe0f", "")


def _edited_text(event: Event) -> str | None:
    message = event["update"]["message"]["editedMessage"]["message"]
    inner = message.get("protocolMessage", {}).get("editedMessage", message)
    text = inner.get("conversation") or inner.get("extendedTextMessage", {}).get("text")
    return str(text) if text is not None else None


async def _their_reaction(alice: BaileysPeer, message_id: str, text: str) -> Event:
    """Baileys saw the bridge user react ``text`` to ``message_id`` ("": remove)."""
    return await alice.wait_for(
        lambda e: (
            e["event"] == "messages.reaction"
            and e["key"]["id"] == message_id
            and not (e["reaction"].get("key") or {}).get("fromMe")
            and (e["reaction"].get("text") or "") == text
        ),
        TIMEOUT,
    )


async def _react(user: MatrixTestUser, room: str, event_id: str, key: str) -> str:
    relates = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
    return await user.send_event(room, "m.reaction", {"m.relates_to": relates})


async def _dm_room(alice: BaileysPeer, user: MatrixTestUser, ours: str, text: str) -> str:
    """Alice's first message makes the DM portal; the user joins it."""
    await alice.send_text(ours, text)
    room = await user.wait_for_invite(timeout=TIMEOUT)
    await user.join(room)
    await user.wait_for_event(room, _text(text), TIMEOUT)
    return room


async def test_edits_reactions_and_deletions_both_ways(
    world: World, synapse: SynapseInfo, bridge: BridgeProcess
) -> None:
    alice, user, management, our_phone = world
    ours = f"{our_phone}@s.whatsapp.net"
    room = await _dm_room(alice, user, ours, "hello")
    original_key = await alice.send_text(ours, "original")
    original = await user.wait_for_event(room, _text("original"), TIMEOUT)
    ghost = original["sender"]

    # WhatsApp edit → m.replace of that event, from the same ghost.
    await alice.edit(ours, original_key, "edited")
    edit = await user.wait_for_event(
        room, _relation("m.room.message", original["event_id"], "m.replace"), TIMEOUT
    )
    assert edit["sender"] == ghost
    assert edit["content"]["m.new_content"]["body"] == "edited"
    assert edit["content"]["body"] == "* edited"

    # Reactions: one per person; a new emoji replaces the old, an empty one removes it.
    await alice.react(ours, original_key, "👍")
    thumbs = await user.wait_for_event(
        room, _relation("m.reaction", original["event_id"], "m.annotation"), TIMEOUT
    )
    assert thumbs["sender"] == ghost
    assert _no_selectors(thumbs["content"]["m.relates_to"]["key"]) == "👍"
    await alice.react(ours, original_key, "❤️")
    await user.wait_for_event(room, is_redaction_of(thumbs["event_id"]), TIMEOUT)
    heart = await user.wait_for_event(
        room, _relation("m.reaction", original["event_id"], "m.annotation"), TIMEOUT
    )
    assert _no_selectors(heart["content"]["m.relates_to"]["key"]) == "❤"
    await alice.react(ours, original_key, "")
    await user.wait_for_event(room, is_redaction_of(heart["event_id"]), TIMEOUT)

    # A reaction to a message the bridge never saw changes nothing, and nothing breaks.
    unknown = {"remoteJid": ours, "fromMe": True, "id": "3EB0000000000000UNKNOWN"}
    await alice.react(ours, unknown, "😮")
    # Revoke ("delete for everyone") → redaction of the bridged event.
    doomed_key = await alice.send_text(ours, "delete me")
    doomed = await user.wait_for_event(room, _text("delete me"), TIMEOUT)
    await alice.revoke(ours, doomed_key)
    redaction = await user.wait_for_event(room, is_redaction_of(doomed["event_id"]), TIMEOUT)
    assert redaction["sender"] == ghost
    assert not [e for e in user.events(room) if e.get("type") == "m.reaction"][2:]

    # Matrix → WhatsApp: an edit of our message, within WhatsApp's 15 minutes.
    mine_id = await user.send_text(room, "from matrix")
    mine = await alice.wait_message(lambda e: text_of(e) == "from matrix", timeout=TIMEOUT)
    await user.send_event(
        room,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "* from matrix, edited",
            "m.new_content": {"msgtype": "m.text", "body": "from matrix, edited"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": mine_id},
        },
    )
    edited = await alice.wait_edit(mine["key"]["id"], timeout=TIMEOUT)
    assert _edited_text(edited) == "from matrix, edited"

    # Reactions from Matrix: a new one replaces the old on WhatsApp (and here: redacted).
    first_reaction = await _react(user, room, original["event_id"], "👍")
    await _their_reaction(alice, original_key["id"], "👍")
    second_reaction = await _react(user, room, original["event_id"], "🎉")
    await _their_reaction(alice, original_key["id"], "🎉")
    await user.wait_for_event(room, is_redaction_of(first_reaction), TIMEOUT)
    # Redacting our reaction removes it; redacting our message revokes it.
    await user.request(
        "PUT", f"/_matrix/client/v3/rooms/{room}/redact/{second_reaction}/r1", json={}
    )
    await _their_reaction(alice, original_key["id"], "")
    await user.request("PUT", f"/_matrix/client/v3/rooms/{room}/redact/{mine_id}/r2", json={})
    revoke = await alice.wait_revoke(mine["key"]["id"], timeout=TIMEOUT)
    assert revoke["update"]["messageStubType"] == 1

    # Events the bridge doesn't know of get a notice: a redaction of our own unbridged event, a
    # reaction to a bot notice. (Someone else's message: the user has no power to redact it in
    # a DM; see tests/bridge/test_portal_relations.py.)
    image = {"msgtype": "m.image", "body": "cat.png", "url": "mxc://example.org/cat"}
    unbridged = await user.send_event(room, "m.room.message", image)
    refused = await user.wait_for_event(
        room, lambda e: "mxc://example.org/cat" in e.get("content", {}).get("body", ""), TIMEOUT
    )
    await user.request("PUT", f"/_matrix/client/v3/rooms/{room}/redact/{unbridged}/r3", json={})
    await user.wait_for_event(room, _notice(REDACTION_REFUSED), TIMEOUT)
    await _react(user, room, refused["event_id"], "👍")
    await user.wait_for_event(room, _notice(REACTION_REFUSED), TIMEOUT)

    # After a restart the edit still finds its target (the message table).
    await asyncio.to_thread(bridge.restart)
    await wait_ping(user, management, synapse.bot_mxid, "connection to WhatsApp OK")
    await alice.edit(ours, original_key, "edited after restart")
    edit = await user.wait_for_event(
        room, _relation("m.room.message", original["event_id"], "m.replace"), TIMEOUT
    )
    assert edit["content"]["m.new_content"]["body"] == "edited after restart"


def _option_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


async def test_polls_and_votes_both_ways(world: World, synapse: SynapseInfo) -> None:
    alice, user, _management, our_phone = world
    ours = f"{our_phone}@s.whatsapp.net"
    room = await _dm_room(alice, user, ours, "poll time")

    # A WhatsApp poll → MSC3381 poll.start; a vote → poll.response from the voter's ghost.
    poll_key = await alice.send_poll(ours, "Lunch?", ["Pizza", "Sushi"])
    poll = await user.wait_for_event(room, lambda e: e.get("type") == POLL_START, TIMEOUT)
    start = poll["content"][POLL_START]
    assert start["question"]["org.matrix.msc1767.text"] == "Lunch?"
    answers = {a["org.matrix.msc1767.text"]: a["id"] for a in start["answers"]}
    assert answers == {"Pizza": _option_id("Pizza"), "Sushi": _option_id("Sushi")}
    await alice.vote(poll_key, ["Sushi"])
    vote = await user.wait_for_event(
        room, _relation(POLL_RESPONSE, poll["event_id"], "m.reference"), TIMEOUT
    )
    assert vote["sender"] == poll["sender"]
    assert vote["content"][POLL_RESPONSE]["answers"] == [answers["Sushi"]]

    # The user's Matrix vote reaches WhatsApp, encrypted with the poll's secret.
    await user.send_event(
        room,
        POLL_RESPONSE,
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll["event_id"]},
            POLL_RESPONSE: {"answers": [answers["Pizza"]]},
        },
    )
    received = await alice.wait_message(lambda e: "poll_vote" in e, timeout=TIMEOUT)
    assert received["poll_vote"].get("selected") == ["Pizza"], received["poll_vote"]
    assert received["poll_vote"]["poll_id"] == poll_key["id"]

    # A Matrix poll reaches WhatsApp with its options; Alice's vote comes back naming the
    # poll's own answer ids.
    poll_id = await user.send_event(
        room,
        POLL_START,
        {
            "org.matrix.msc1767.text": "Colour?\n1. Red\n2. Blue",
            POLL_START: {
                "kind": "org.matrix.msc3381.poll.disclosed",
                "max_selections": 1,
                "question": {"org.matrix.msc1767.text": "Colour?"},
                "answers": [
                    {"id": "red", "org.matrix.msc1767.text": "Red"},
                    {"id": "blue", "org.matrix.msc1767.text": "Blue"},
                ],
            },
        },
    )
    created = await alice.wait_message(
        lambda e: "pollCreationMessageV3" in (e.get("message") or {}), timeout=TIMEOUT
    )
    creation = created["message"]["pollCreationMessageV3"]
    assert creation["name"] == "Colour?"
    assert [o["optionName"] for o in creation["options"]] == ["Red", "Blue"]
    await alice.vote(created["key"], ["Blue"])
    to_matrix_poll = _relation(POLL_RESPONSE, poll_id, "m.reference")
    vote = await user.wait_for_event(room, to_matrix_poll, TIMEOUT)
    assert vote["content"][POLL_RESPONSE]["answers"] == ["blue"]


async def test_group_reactions_edits_and_revokes(world: World) -> None:
    """In a group the keys name the message's author (``participant``): a Matrix reaction
    to Alice's message reaches her on that message; her edit and revoke find theirs."""
    alice, user, _management, our_phone = world
    group = await alice.group_create("Relations", [f"{our_phone}@s.whatsapp.net"])
    group_jid = group["id"]
    message_key = await alice.send_text(group_jid, "group hello")
    room = await user.wait_for_invite(timeout=TIMEOUT)
    await user.join(room)
    message = await user.wait_for_event(room, _text("group hello"), TIMEOUT)

    await _react(user, room, message["event_id"], "👍")
    await _their_reaction(alice, message_key["id"], "👍")
    await alice.edit(group_jid, message_key, "group hello, edited")
    edit = await user.wait_for_event(
        room, _relation("m.room.message", message["event_id"], "m.replace"), TIMEOUT
    )
    assert edit["content"]["m.new_content"]["body"] == "group hello, edited"
    await alice.react(group_jid, message_key, "🎉")
    annotation = _relation("m.reaction", message["event_id"], "m.annotation")
    reaction = await user.wait_for_event(
        room, lambda e: annotation(e) and e["sender"] == message["sender"], TIMEOUT
    )
    assert _no_selectors(reaction["content"]["m.relates_to"]["key"]) == "🎉"
    await alice.revoke(group_jid, message_key)
    await user.wait_for_event(room, is_redaction_of(message["event_id"]), TIMEOUT)
