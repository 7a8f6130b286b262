"""Baileys ↔ a simulated phone (an account's device 0, a Signal peer run by the simulator): what
the phone sends, Baileys decodes; what Baileys sends, the phone's ``received`` list shows
decrypted. Baileys is the reference implementation on one side, the simulator's own message code
on the other."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.baileys_fixtures import ALICE, alice, sim
from tests.baileys_peer import BaileysPeer, Event, text_of
from tests.simulator_fixture import SimulatorInfo, admin

__all__ = ["alice", "sim"]  # fixtures used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

ERIN = "15550001005"
ERIN_JID = f"{ERIN}@s.whatsapp.net"
READ = 4  # proto.WebMessageInfo.Status.READ


class Phone:
    """The simulated phone of one account, through the admin API."""

    def __init__(self, sim: SimulatorInfo, phone: str) -> None:
        self.sim = sim
        self.phone = phone

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body)
        status, answer = await admin(self.sim, method, f"/accounts/{self.phone}{path}", data)
        assert status == 200, (path, status, answer)
        return answer

    async def send(self, to: str, **content: Any) -> str:
        """Send (``text=…``, ``reaction={…}``, ``poll={…}``…); the message id."""
        return str((await self.call("POST", "/send", {"to": to, **content}))["id"])

    async def received(self, message_id: str) -> dict[str, Any]:
        """The message with this id once the phone has it (decrypted), waiting up to 10 s."""
        answer = await self.call("GET", f"/received?id={message_id}&timeout=10")
        [message] = [m for m in answer["messages"] if m["id"] == message_id]
        return dict(message)

    async def receipts(self) -> list[dict[str, Any]]:
        return list((await self.call("GET", "/received"))["receipts"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def erin(sim: SimulatorInfo, alice: BaileysPeer) -> AsyncIterator[Phone]:
    """Erin: an account with only her phone (no companion). Created after Alice is linked,
    and not as the default account, so no QR scan links to it."""
    status, account = await admin(
        sim, "POST", "/accounts", json.dumps({"phone": ERIN, "push_name": "Erin"})
    )
    assert status == 200, account
    yield Phone(sim, ERIN)


def from_erin(event: Event) -> bool:
    key = event["key"]
    return ERIN in {
        str(key.get("remoteJid", "")).split("@")[0],
        str(key.get("remoteJidAlt", "")).split("@")[0],
    }


def key_id(key: dict[str, Any]) -> str:
    """A message key's id: ``ID`` in the simulator's protobuf JSON (waCommon), ``id`` in
    Baileys'."""
    return str(key.get("ID") or key.get("id"))


def phone_text(received: dict[str, Any]) -> str | None:
    return text_of({"message": received["message"]})


def content(event: Event, kind: str) -> dict[str, Any]:
    return dict((event.get("message") or {}).get(kind) or {})


async def test_phone_to_baileys_text(alice: BaileysPeer, erin: Phone) -> None:
    message_id = await erin.send(alice.jid, text="hi from Erin's phone")
    event = await alice.wait_message(lambda m: m["key"]["id"] == message_id)
    assert text_of(event) == "hi from Erin's phone"
    assert from_erin(event) and event["pushName"] == "Erin"


async def test_baileys_to_phone_text_and_own_phone_copy(alice: BaileysPeer, erin: Phone) -> None:
    key = await alice.send_text(ERIN_JID, "hi Erin")
    got = await erin.received(key["id"])
    assert phone_text(got) == "hi Erin"
    assert got["from"].split("@")[0].split(":")[0] in {ALICE, str(alice.lid).split("@")[0]}
    # Baileys also sends its own phone the message (a deviceSentMessage, unwrapped there).
    own = await Phone(erin.sim, ALICE).received(key["id"])
    assert phone_text(own) == "hi Erin"


async def test_phone_reply_reaction_edit_revoke(alice: BaileysPeer, erin: Phone) -> None:
    key = await alice.send_text(ERIN_JID, "original")
    await erin.received(key["id"])

    reply = await erin.send(alice.jid, text="a reply", reply_to={"id": key["id"]})
    event = await alice.wait_message(lambda m: m["key"]["id"] == reply)
    context = content(event, "extendedTextMessage")["contextInfo"]
    assert context["stanzaId"] == key["id"] and alice.is_me(context["participant"])

    await erin.send(alice.jid, reaction={"id": key["id"], "emoji": "❤️"})
    reaction = await alice.wait_reaction(key["id"])
    assert reaction["reaction"]["text"] == "❤️"

    own = await erin.send(alice.jid, text="soon edited")
    await alice.wait_message(lambda m: m["key"]["id"] == own)
    await erin.send(alice.jid, edit={"id": own, "text": "edited"})
    update = await alice.wait_edit(own)
    assert (
        text_of({"message": update["update"]["message"]["editedMessage"]["message"]}) == "edited"
    )

    await erin.send(alice.jid, revoke={"id": own})
    update = await alice.wait_revoke(own)
    assert update["update"]["message"] is None


async def test_baileys_reaction_and_edit_to_phone(alice: BaileysPeer, erin: Phone) -> None:
    message_id = await erin.send(alice.jid, text="react here")
    event = await alice.wait_message(lambda m: m["key"]["id"] == message_id)
    reaction = await alice.react(ERIN_JID, event["key"], "🎉")
    got = await erin.received(reaction["id"])
    assert key_id(got["message"]["reactionMessage"]["key"]) == message_id
    assert got["message"]["reactionMessage"]["text"] == "🎉"

    key = await alice.send_text(ERIN_JID, "befor")
    await erin.received(key["id"])
    edit = await alice.edit(ERIN_JID, key, "before")
    got = await erin.received(edit["id"])
    protocol = got["message"]["protocolMessage"]
    assert key_id(protocol["key"]) == key["id"] and protocol["type"] == "MESSAGE_EDIT"
    assert protocol["editedMessage"]["extendedTextMessage"]["text"] == "before"


async def test_polls_both_ways(alice: BaileysPeer, erin: Phone) -> None:
    # The phone's poll, Baileys' vote: the phone receives a vote for its poll.
    poll = await erin.send(alice.jid, poll={"name": "Tea?", "options": ["Yes", "No"]})
    event = await alice.wait_message(lambda m: m["key"]["id"] == poll)
    vote = await alice.vote(event["key"], ["No"])
    got = await erin.received(vote["key"]["id"])
    assert key_id(got["message"]["pollUpdateMessage"]["pollCreationMessageKey"]) == poll

    # Baileys' poll, the phone's vote: Baileys decrypts the simulator's encryption.
    key = await alice.send_poll(ERIN_JID, "Coffee?", ["Espresso", "Latte"])
    await erin.received(key["id"])
    vote_id = await erin.send(alice.jid, vote={"id": key["id"], "options": ["Latte"]})
    got_vote = await alice.wait_message(lambda m: m["key"]["id"] == vote_id)
    assert got_vote["poll_vote"].get("selected") == ["Latte"], got_vote["poll_vote"]


async def test_location_and_contact_from_phone(alice: BaileysPeer, erin: Phone) -> None:
    message_id = await erin.send(
        alice.jid, location={"latitude": 48.8584, "longitude": 2.2945, "name": "Tour Eiffel"}
    )
    event = await alice.wait_message(lambda m: m["key"]["id"] == message_id)
    location = content(event, "locationMessage")
    assert (location["degreesLatitude"], location["degreesLongitude"]) == (48.8584, 2.2945)
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Frank\nTEL;waid=15550007777:+1 555 000 7777\nEND:VCARD"
    message_id = await erin.send(alice.jid, contact={"name": "Frank", "vcard": vcard})
    event = await alice.wait_message(lambda m: m["key"]["id"] == message_id)
    assert content(event, "contactMessage")["vcard"] == vcard


async def test_read_receipts_both_ways(alice: BaileysPeer, erin: Phone) -> None:
    key = await alice.send_text(ERIN_JID, "read me")
    await erin.received(key["id"])
    await erin.call("POST", "/read", {"chat": alice.jid, "ids": [key["id"]]})
    await alice.wait_status(key["id"], READ)

    message_id = await erin.send(alice.jid, text="I will be read")
    event = await alice.wait_message(lambda m: m["key"]["id"] == message_id)
    await alice.send_receipts([event["key"]])
    # A message sent after the receipt, on the same connection: once the phone has it, the
    # receipt (handled first, in order) has been relayed.
    marker = await alice.send_text(ERIN_JID, "after the receipt")
    await erin.received(marker["id"])
    assert any(message_id in r["ids"] and r["type"] == "read" for r in await erin.receipts()), (
        await erin.receipts()
    )


async def test_typing_from_phone(alice: BaileysPeer, erin: Phone) -> None:
    await erin.call("POST", "/typing", {"chat": alice.jid, "state": "composing"})
    update = await alice.wait_for(
        lambda e: (
            e["event"] == "presence.update"
            and any(
                p.get("lastKnownPresence") == "composing" for p in e["data"]["presences"].values()
            )
        )
    )
    assert ERIN in str(update["data"]["id"]) or update["data"]["id"].endswith("@lid")


async def test_group_with_phone(alice: BaileysPeer, erin: Phone) -> None:
    """Sender keys both ways: Baileys' skmsg read by the phone, the phone's by Baileys."""
    group = (await alice.group_create("Baileys and a phone", [ERIN_JID]))["id"]
    key = await alice.send_text(group, "hello group")
    got = await erin.received(key["id"])
    assert phone_text(got) == "hello group" and got["chat"] == group

    message_id = await erin.send(group, text="hello from the phone")
    event = await alice.wait_message(lambda m: m["key"]["id"] == message_id)
    assert text_of(event) == "hello from the phone"
    assert event["key"]["remoteJid"] == group and ERIN in str(event["key"]["participant"])
