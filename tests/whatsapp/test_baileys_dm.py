"""Baileys ↔ Baileys direct messages through the simulator: two real third-party clients, two
accounts, every kind of message the bridge will carry, each proven by what the other side decodes.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tests.baileys_fixtures import alice, bob, sim
from tests.baileys_peer import BaileysPeer, Event, text_of
from tests.simulator_fixture import SimulatorInfo, admin

__all__ = ["alice", "bob", "sim"]  # fixtures used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

READ = 4  # proto.WebMessageInfo.Status.READ


def sender(event: Event) -> str:
    """Who sent a received message (the chat in a DM), in the form the key gives it."""
    key = event["key"]
    return str(key.get("participant") or key["remoteJid"])


def from_peer(event: Event, peer: BaileysPeer) -> bool:
    key = event["key"]
    return any(
        peer.is_me(jid)
        for jid in (key.get("participant"), key.get("remoteJid"), key.get("remoteJidAlt"))
    )


def content(event: Event, kind: str) -> dict[str, Any]:
    """One message type's JSON from an upsert event (empty if it is not that type)."""
    return dict((event.get("message") or {}).get(kind) or {})


async def test_on_whatsapp(alice: BaileysPeer, bob: BaileysPeer) -> None:
    found = await alice.on_whatsapp(bob.jid, "15559999999@s.whatsapp.net")
    exists = {item["jid"]: item["exists"] for item in found}
    assert exists.get(bob.jid) is True
    assert not exists.get("15559999999@s.whatsapp.net")


async def test_text(sim: SimulatorInfo, alice: BaileysPeer, bob: BaileysPeer) -> None:
    key = await alice.send_text(bob.jid, "hello Bob")
    event = await bob.wait_message(lambda m: m["key"]["id"] == key["id"])
    assert text_of(event) == "hello Bob"
    assert from_peer(event, alice)
    assert event["pushName"] == "Alice"
    assert event["messageTimestamp"] > 0
    # And back: a conversation, not a one-way street.
    answer = await bob.send_text(alice.jid, "hello Alice")
    back = await alice.wait_message(lambda m: m["key"]["id"] == answer["id"])
    assert text_of(back) == "hello Alice" and from_peer(back, bob)
    _, status = await admin(sim, "GET", "/status")
    assert status["protocol_errors"] == []


async def test_mentions_and_reply(alice: BaileysPeer, bob: BaileysPeer) -> None:
    key = await alice.send_text(bob.jid, "@bob look", mentions=[bob.jid])
    event = await bob.wait_message(lambda m: m["key"]["id"] == key["id"])
    text = content(event, "extendedTextMessage")
    assert text["text"] == "@bob look"
    assert text["contextInfo"]["mentionedJid"] == [bob.jid]

    reply = await bob.send_text(alice.jid, "looking", quoted=event["key"])
    got = await alice.wait_message(lambda m: m["key"]["id"] == reply["id"])
    context = content(got, "extendedTextMessage")["contextInfo"]
    assert text_of(got) == "looking"
    assert context["stanzaId"] == key["id"]
    assert alice.is_me(context["participant"])
    assert context["quotedMessage"]["extendedTextMessage"]["text"] == "@bob look"


async def test_reaction_and_removal(alice: BaileysPeer, bob: BaileysPeer) -> None:
    key = await alice.send_text(bob.jid, "react to this")
    event = await bob.wait_message(lambda m: m["key"]["id"] == key["id"])

    await bob.react(alice.jid, event["key"], "👍")
    reaction = await alice.wait_message(lambda m: bool(content(m, "reactionMessage")))
    assert content(reaction, "reactionMessage")["key"]["id"] == key["id"]
    assert content(reaction, "reactionMessage")["text"] == "👍"
    summary = await alice.wait_reaction(key["id"])
    assert summary["reaction"]["text"] == "👍"

    await bob.react(alice.jid, event["key"], "")
    removal = await alice.wait_message(lambda m: bool(content(m, "reactionMessage")))
    assert content(removal, "reactionMessage")["key"]["id"] == key["id"]
    assert content(removal, "reactionMessage").get("text", "") == ""


async def test_edit(alice: BaileysPeer, bob: BaileysPeer) -> None:
    key = await alice.send_text(bob.jid, "teh typo")
    await bob.wait_message(lambda m: m["key"]["id"] == key["id"])
    await alice.edit(bob.jid, key, "the typo")
    update = await bob.wait_edit(key["id"])
    edited = update["update"]["message"]["editedMessage"]["message"]
    assert text_of({"message": edited}) == "the typo", update


async def test_revoke(alice: BaileysPeer, bob: BaileysPeer) -> None:
    key = await alice.send_text(bob.jid, "oops, wrong chat")
    await bob.wait_message(lambda m: m["key"]["id"] == key["id"])
    await alice.revoke(bob.jid, key)
    update = await bob.wait_revoke(key["id"])
    assert update["update"]["message"] is None
    assert update["update"]["messageStubType"] == 1  # WAMessageStubType.REVOKE


async def test_poll_and_vote(alice: BaileysPeer, bob: BaileysPeer) -> None:
    poll = await alice.send_poll(bob.jid, "Lunch?", ["Pizza", "Sushi", "Salad"])
    event = await bob.wait_message(lambda m: m["key"]["id"] == poll["id"])
    creation = content(event, "pollCreationMessageV3")
    assert creation["name"] == "Lunch?"
    assert [option["optionName"] for option in creation["options"]] == ["Pizza", "Sushi", "Salad"]
    assert event["message"]["messageContextInfo"]["messageSecret"]

    vote = await bob.vote(event["key"], ["Sushi"])
    got = await alice.wait_message(lambda m: m["key"]["id"] == vote["key"]["id"])
    assert content(got, "pollUpdateMessage")["pollCreationMessageKey"]["id"] == poll["id"]
    decoded = got["poll_vote"]
    assert decoded.get("selected") == ["Sushi"], decoded
    tally = {option["name"]: option["voters"] for option in decoded["aggregate"]}
    assert [bob.is_me(voter) for voter in tally["Sushi"]] == [True]
    assert tally["Pizza"] == [] and tally["Salad"] == []

    # Changing the vote replaces it (one voter, latest choice).
    change = await bob.vote(event["key"], ["Pizza"])
    again = await alice.wait_message(lambda m: m["key"]["id"] == change["key"]["id"])
    assert again["poll_vote"]["selected"] == ["Pizza"]
    tally = {option["name"]: option["voters"] for option in again["poll_vote"]["aggregate"]}
    assert len(tally["Pizza"]) == 1 and tally["Sushi"] == []


async def test_location_and_contact(alice: BaileysPeer, bob: BaileysPeer) -> None:
    key = await alice.send_location(bob.jid, 52.3676, 4.9041, name="Dam Square")
    event = await bob.wait_message(lambda m: m["key"]["id"] == key["id"])
    location = content(event, "locationMessage")
    assert (location["degreesLatitude"], location["degreesLongitude"]) == (52.3676, 4.9041)
    assert location["name"] == "Dam Square"

    vcard = "\n".join(
        (
            "BEGIN:VCARD",
            "VERSION:3.0",
            "FN:Dora",
            "TEL;waid=15550009999:+1 555 000 9999",
            "END:VCARD",
        )
    )
    key = await alice.send_contact(bob.jid, "Dora", vcard)
    event = await bob.wait_message(lambda m: m["key"]["id"] == key["id"])
    # Baileys sends one contact as a contactMessage, several as a contactsArrayMessage.
    contact = content(event, "contactMessage") or content(event, "contactsArrayMessage")
    assert contact.get("displayName") == "Dora", event
    assert "waid=15550009999" in str(contact)


async def test_forward(alice: BaileysPeer, bob: BaileysPeer) -> None:
    key = await bob.send_text(alice.jid, "pass this on")
    event = await alice.wait_message(lambda m: m["key"]["id"] == key["id"])
    forwarded = await alice.forward(bob.jid, event["key"])
    got = await bob.wait_message(lambda m: m["key"]["id"] == forwarded["id"])
    assert text_of(got) == "pass this on"
    assert content(got, "extendedTextMessage")["contextInfo"]["isForwarded"] is True


async def test_read_receipt(alice: BaileysPeer, bob: BaileysPeer) -> None:
    key = await alice.send_text(bob.jid, "did you read this?")
    event = await bob.wait_message(lambda m: m["key"]["id"] == key["id"])
    await bob.read([event["key"]])
    update = await alice.wait_status(key["id"], READ)
    assert update["key"]["fromMe"] is True


async def test_typing(alice: BaileysPeer, bob: BaileysPeer) -> None:
    # What Baileys reports for each chat state it receives ("paused" reads as "available").
    for state, seen in (
        ("composing", "composing"),
        ("recording", "recording"),
        ("paused", "available"),
    ):
        await bob.presence(state, alice.jid)
        update = await alice.wait_for(functools.partial(presence_is, state=seen))
        [who] = update["data"]["presences"]
        assert bob.is_me(who) and bob.is_me(update["data"]["id"])


async def test_presence_subscription(alice: BaileysPeer, bob: BaileysPeer) -> None:
    await alice.subscribe_presence(bob.jid)
    await bob.presence("unavailable")
    update = await alice.wait_for(lambda e: presence_is(e, "unavailable"))
    assert bob.is_me(update["data"]["id"])
    await bob.presence("available")
    update = await alice.wait_for(lambda e: presence_is(e, "available"))
    assert bob.is_me(update["data"]["id"])


def presence_is(event: Event, state: str) -> bool:
    return event["event"] == "presence.update" and any(
        presence.get("lastKnownPresence") == state
        for presence in event["data"]["presences"].values()
    )
