"""Our client ↔ Baileys 7.0.0-rc14 in direct messages, through the simulator (issue 8).

Our client is linked to account A (with a second device of ours on the same account); each
Baileys peer is its own account. Every kind of message goes both ways, asserted on what the
other side decodes. ``first`` runs against a Baileys account that never talked to A (the sender
has no session, so its stanzas carry ``pkmsg``; only the sender speaks in such a test, so they
all stay ``pkmsg``); ``session`` against one with sessions confirmed both ways (``msg``). The
``<enc>`` types are read off our client's wire, so the two cases cannot silently become one.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import ChatPresence, Message, Receipt
from mautrix_whatsapp.whatsapp.presence import ChatState, ChatStateMedia, send_chat_presence
from tests.baileys_fixtures import linked_client, sim
from tests.baileys_peer import BaileysPeer, Event, text_of, user_of
from tests.simulator_fixture import SimulatorInfo
from tests.whatsapp.test_client_helpers import admin

__all__ = ["sim"]  # fixture used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

OURS = "15550004001"
BAILEYS = "15550004002"
PN = "s.whatsapp.net"
WAIT = 10.0
READ = 4  # proto.WebMessageInfo.Status.READ
_fresh_phones = itertools.count(15550004100)

E = TypeVar("E")


class Events:
    """A client's events, waited for by predicate (each event is handed out once)."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self._taken: set[int] = set()
        self._changed = asyncio.Condition()

    async def __call__(self, event: object) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def wait(
        self, kind: type[E], match: Callable[[E], bool] = lambda _: True, timeout: float = WAIT
    ) -> E:
        def find() -> E | None:
            for index, event in enumerate(self.events):
                if index not in self._taken and isinstance(event, kind) and match(event):
                    self._taken.add(index)
                    return event
            return None

        try:
            async with asyncio.timeout(timeout), self._changed:
                while (found := find()) is None:
                    await self._changed.wait()
                return found
        except TimeoutError:
            recent = [e for e in self.events if isinstance(e, kind)][-5:]
            raise TimeoutError(
                f"no matching {kind.__name__} in {timeout}s; last: {recent}"
            ) from None

    async def message(self, message_id: str) -> Message:
        return await self.wait(Message, lambda m: m.info.id == message_id)


@dataclass
class Wire:
    """The ``<enc>`` types on our client's socket: what it sent (per message id and recipient
    user) and what it received (per message id)."""

    sent: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    received: dict[str, set[str]] = field(default_factory=dict)

    def tap(self, client: Client) -> None:
        send_node = client.send_node
        handle = client.messages.handle

        async def sending(node: Node) -> None:
            if node.tag == "message":
                per_user = self.sent.setdefault(str(node.attrs.get("id")), {})
                for participants in node.children_by_tag("participants"):
                    for to in participants.children_by_tag("to"):
                        jid = to.attrs["jid"]
                        assert isinstance(jid, JID)
                        types = {str(e.attrs.get("type")) for e in to.children_by_tag("enc")}
                        per_user.setdefault(f"{jid.user}:{jid.device}", set()).update(types)
            await send_node(node)

        async def receiving(node: Node) -> None:
            types = {str(e.attrs.get("type")) for e in node.children_by_tag("enc")}
            self.received.setdefault(str(node.attrs.get("id")), set()).update(types)
            await handle(node)

        client.send_node = sending  # type: ignore[method-assign]
        client.add_node_handler("message", receiving)

    def sent_to(self, message_id: str, peer: BaileysPeer) -> set[str]:
        """The enc types of ``message_id`` for the peer's Baileys device (by PN or LID)."""
        devices = {f"{user_of(j)}:{_device(j)}" for j in (peer.me["id"], peer.me.get("lid")) if j}
        found = self.sent.get(message_id, {})
        return set().union(*(types for device, types in found.items() if device in devices))


def _device(jid: str) -> int:
    user = jid.split("@", 1)[0]
    return int(user.split(":", 1)[1]) if ":" in user else 0


@dataclass
class Ours:
    """Our client on account A, its events and its wire."""

    client: Client
    events: Events
    wire: Wire

    @property
    def jid(self) -> JID:
        assert self.client.device.jid is not None
        return self.client.device.jid.to_non_ad()

    @property
    def users(self) -> set[str]:
        """Account A's users: its phone number and its LID."""
        return {jid.user for jid in self.client.own_jids()}


async def _linked_ours(sim: SimulatorInfo) -> AsyncIterator[Ours]:
    """A device of ours on account A, its events and wire tapped from the start."""
    events, wire = Events(), Wire()

    def tap(client: Client) -> None:
        client.add_event_handler(events)
        wire.tap(client)

    async for client, _log in linked_client(sim, OURS, "Ours", before_link=tap):
        yield Ours(client, events, wire)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ours(sim: SimulatorInfo) -> AsyncIterator[Ours]:
    """Our client on account A."""
    async for linked in _linked_ours(sim):
        yield linked


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ours2(sim: SimulatorInfo, ours: Ours) -> AsyncIterator[Ours]:
    """A second device of ours on account A (linked before any Baileys peer)."""
    async for linked in _linked_ours(sim):
        yield linked


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def known(
    sim: SimulatorInfo, ours: Ours, ours2: Ours, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BaileysPeer]:
    """Baileys on account B, with sessions confirmed both ways: after a round trip, both
    sides send ``msg``."""
    auth = tmp_path_factory.mktemp("baileys-known")
    async with BaileysPeer.start(sim, push_name="Known", auth_dir=auth, phone=BAILEYS) as peer:
        hello = await ours.client.send_message(JID(BAILEYS, PN), mb.text("hello"))
        await peer.wait_message(lambda m: m["key"]["id"] == hello.id)
        assert ours.wire.sent_to(hello.id, peer) == {"pkmsg"}
        answer = await peer.send_text(str(ours.jid), "hello back")
        await ours.events.message(answer["id"])
        assert ours.wire.received[answer["id"]] == {"msg"}
        again = await ours.client.send_message(JID(BAILEYS, PN), mb.text("again"))
        await peer.wait_message(lambda m: m["key"]["id"] == again.id)
        assert ours.wire.sent_to(again.id, peer) == {"msg"}
        yield peer


async def _fresh(sim: SimulatorInfo, root: Path) -> AsyncIterator[BaileysPeer]:
    phone = str(next(_fresh_phones))
    auth = root / phone
    async with BaileysPeer.start(
        sim, push_name=f"New{phone[-3:]}", auth_dir=auth, phone=phone
    ) as p:
        yield p


@dataclass
class Chat:
    """One test's counterpart: a Baileys peer and which ``<enc>`` type every message of the
    test must travel as."""

    peer: BaileysPeer
    first: bool
    mirror: Ours
    """Our second device: every message we send reaches it too (as a device-sent message)."""

    @property
    def enc(self) -> set[str]:
        return {"pkmsg"} if self.first else {"msg"}


@pytest_asyncio.fixture(loop_scope="module", params=["first", "session"])
async def chat(
    request: pytest.FixtureRequest,
    sim: SimulatorInfo,
    ours2: Ours,
    known: BaileysPeer,
    tmp_path: Path,
) -> AsyncIterator[Chat]:
    """``first``: a new Baileys account (a link per test); ``session``: :func:`known`."""
    if request.param == "session":
        yield Chat(known, first=False, mirror=ours2)
        return
    async for peer in _fresh(sim, tmp_path):
        yield Chat(peer, first=True, mirror=ours2)


def _text(event: Message) -> str:
    """The text of a message we received (Baileys sends plain text either way)."""
    return event.message.conversation or event.message.extendedTextMessage.text


def _content(event: Event, kind: str) -> dict[str, Any]:
    return dict((event.get("message") or {}).get(kind) or {})


# ---- ours → Baileys --------------------------------------------------------------------------


def _peer_chat(chat: Chat) -> JID:
    return JID(user_of(chat.peer.jid), PN)


async def _send_only(ours: Ours, chat: Chat, message: mb.Message) -> str:
    """Send from our client; its id, once the enc type for the peer's device is checked and
    our second device got it."""
    sent = await ours.client.send_message(_peer_chat(chat), message)
    assert ours.wire.sent_to(sent.id, chat.peer) == chat.enc
    copy = await chat.mirror.events.message(sent.id)
    assert copy.info.is_from_me and copy.info.chat.user == user_of(chat.peer.jid)
    assert copy.info.device_sent_destination is not None
    return sent.id


async def _send(ours: Ours, chat: Chat, message: mb.Message) -> tuple[str, Event]:
    """Send from our client; the id, and the upsert Baileys decoded."""
    message_id = await _send_only(ours, chat, message)
    event = await chat.peer.wait_message(lambda m: m["key"]["id"] == message_id)
    assert user_of(event["key"]["remoteJid"]) in ours.users
    return message_id, event


async def _target_for_ours(ours: Ours, chat: Chat, body: str) -> tuple[str, JID | None, str]:
    """A message for our client to refer to: with a session, the peer's (it may speak); on
    first contact our own (only we speak). Its id, its sender (None: us), its text."""
    if chat.first:
        message_id, _ = await _send(ours, chat, mb.text(body))
        return message_id, None, body
    key = await chat.peer.send_text(str(ours.jid), body)
    event = await ours.events.message(str(key["id"]))
    return event.info.id, event.info.sender.to_non_ad(), _text(event)


async def test_text_to_baileys(ours: Ours, chat: Chat) -> None:
    _, event = await _send(ours, chat, mb.text("hello from ours"))
    assert text_of(event) == "hello from ours"
    assert event["message"] == {"conversation": "hello from ours"}
    assert event["pushName"] == "Ours"


async def test_mentions_to_baileys(ours: Ours, chat: Chat) -> None:
    peer = _peer_chat(chat)
    _, event = await _send(ours, chat, mb.mention(f"@{peer.user} look", [peer]))
    text = _content(event, "extendedTextMessage")
    assert text["text"] == f"@{peer.user} look"
    assert text["contextInfo"]["mentionedJid"] == [chat.peer.jid]


async def test_reply_to_baileys(ours: Ours, chat: Chat) -> None:
    target, sender, body = await _target_for_ours(ours, chat, "what do you think?")
    quoted_sender = sender or ours.jid
    _, event = await _send(ours, chat, mb.reply("I agree", target, quoted_sender, mb.text(body)))
    context = _content(event, "extendedTextMessage")["contextInfo"]
    assert text_of(event) == "I agree"
    assert context["stanzaId"] == target
    assert user_of(context["participant"]) == quoted_sender.user
    assert text_of({"message": context["quotedMessage"]}) == body


async def test_reaction_to_baileys(ours: Ours, chat: Chat) -> None:
    target, sender, _ = await _target_for_ours(ours, chat, "react to this")
    peer = _peer_chat(chat)
    _, event = await _send(ours, chat, ours.client.build_reaction(peer, target, sender, "👍"))
    reaction = _content(event, "reactionMessage")
    assert reaction["key"]["id"] == target and reaction["text"] == "👍"
    # Baileys turns the key to its own view: fromMe when we reacted to the peer's message.
    assert bool(reaction["key"].get("fromMe")) == (not chat.first)
    _, event = await _send(ours, chat, ours.client.build_reaction(peer, target, sender, ""))
    removal = _content(event, "reactionMessage")
    assert removal["key"]["id"] == target and removal.get("text", "") == ""


async def test_edit_to_baileys(ours: Ours, chat: Chat) -> None:
    original, _ = await _send(ours, chat, mb.text("teh typo"))
    peer = _peer_chat(chat)
    await _send_only(ours, chat, mb.edit(peer, original, mb.text("the typo")))
    update = await chat.peer.wait_edit(original)
    edited = update["update"]["message"]["editedMessage"]["message"]
    assert text_of({"message": edited}) == "the typo", update


async def test_revoke_to_baileys(ours: Ours, chat: Chat) -> None:
    original, _ = await _send(ours, chat, mb.text("wrong chat"))
    await _send_only(ours, chat, ours.client.build_revoke(_peer_chat(chat), original))
    update = await chat.peer.wait_revoke(original)
    assert update["update"]["message"] is None
    assert update["update"]["messageStubType"] == 1  # WAMessageStubType.REVOKE


async def test_poll_and_our_vote_to_baileys(ours: Ours, chat: Chat) -> None:
    """Our vote, decrypted by Baileys (``decryptPollVote``) and counted by
    ``getAggregateVotesInPollMessage``: on our own poll (first contact) or the peer's."""
    peer = _peer_chat(chat)
    options = ["Pizza", "Sushi", "Salad"]
    if chat.first:
        poll_id, event = await _send(ours, chat, mb.poll("Lunch?", options))
        creation = _content(event, "pollCreationMessageV3")
        assert creation["name"] == "Lunch?"
        assert [o["optionName"] for o in creation["options"]] == options
        assert event["message"]["messageContextInfo"]["messageSecret"]
        vote_chat, poll_sender = peer, ours.jid
    else:
        key = await chat.peer.send_poll(str(ours.jid), "Lunch?", options)
        received = await ours.events.message(str(key["id"]))
        assert [o.optionName for o in received.message.pollCreationMessageV3.options] == options
        poll_id, vote_chat, poll_sender = key["id"], received.info.chat, received.info.sender
    vote = await ours.client.build_poll_vote(vote_chat, poll_id, poll_sender, ["Sushi"])
    _, event = await _send(ours, chat, vote)
    assert _content(event, "pollUpdateMessage")["pollCreationMessageKey"]["id"] == poll_id
    decoded = event["poll_vote"]
    assert decoded.get("selected") == ["Sushi"], decoded
    tally = {option["name"]: option["voters"] for option in decoded["aggregate"]}
    assert [user_of(voter) in ours.users for voter in tally["Sushi"]] == [True]
    assert tally["Pizza"] == [] and tally["Salad"] == []


async def test_location_to_baileys(ours: Ours, chat: Chat) -> None:
    _, event = await _send(ours, chat, mb.location(52.3676, 4.9041, name="Dam Square"))
    location = _content(event, "locationMessage")
    assert (location["degreesLatitude"], location["degreesLongitude"]) == (52.3676, 4.9041)
    assert location["name"] == "Dam Square"


async def test_contact_to_baileys(ours: Ours, chat: Chat) -> None:
    card = mb.vcard("Dora", "+15550009999")
    _, event = await _send(ours, chat, mb.contact("Dora", card))
    contact = _content(event, "contactMessage")
    assert contact["displayName"] == "Dora" and contact["vcard"] == card


# ---- Baileys → ours --------------------------------------------------------------------------


async def _receive(ours: Ours, chat: Chat, key: dict[str, Any]) -> Message:
    event = await ours.events.message(str(key["id"]))
    assert ours.wire.received[event.info.id] == chat.enc
    assert chat.peer.is_me(str(event.info.sender)) and not event.info.is_from_me
    assert chat.peer.is_me(str(event.info.chat))
    return event


async def test_text_from_baileys(ours: Ours, chat: Chat) -> None:
    key = await chat.peer.send_text(str(ours.jid), "hello from Baileys")
    event = await _receive(ours, chat, key)
    assert _text(event) == "hello from Baileys"
    assert event.info.push_name == chat.peer.name


async def _target_for_peer(ours: Ours, chat: Chat, body: str) -> dict[str, Any]:
    """A message for the peer to refer to, as its key in the peer's view: with a session
    ours; on first contact the peer's own (only the peer speaks)."""
    if chat.first:
        key: dict[str, Any] = await chat.peer.send_text(str(ours.jid), body)
        await _receive(ours, chat, key)
        return key
    sent = await ours.client.send_message(_peer_chat(chat), mb.text(body))
    event = await chat.peer.wait_message(lambda m: m["key"]["id"] == sent.id)
    return dict(event["key"])


async def test_mentions_from_baileys(ours: Ours, chat: Chat) -> None:
    key = await chat.peer.send_text(str(ours.jid), f"@{OURS} look", mentions=[str(ours.jid)])
    event = await _receive(ours, chat, key)
    text = event.message.extendedTextMessage
    assert text.text == f"@{OURS} look"
    assert [JID.parse(j).user for j in text.contextInfo.mentionedJID] == [OURS]


async def test_reply_from_baileys(ours: Ours, chat: Chat) -> None:
    target = await _target_for_peer(ours, chat, "what do you think?")
    key = await chat.peer.send_text(str(ours.jid), "I agree", quoted=target)
    event = await _receive(ours, chat, key)
    context = event.message.extendedTextMessage.contextInfo
    assert event.message.extendedTextMessage.text == "I agree"
    assert context.stanzaID == target["id"]
    author = JID.parse(context.participant)
    if chat.first:
        assert chat.peer.is_me(str(author))
    else:
        assert author.user in ours.users
    quoted = context.quotedMessage
    assert (quoted.conversation or quoted.extendedTextMessage.text) == "what do you think?"


async def test_reaction_from_baileys(ours: Ours, chat: Chat) -> None:
    target = await _target_for_peer(ours, chat, "react to this")
    key = await chat.peer.react(str(ours.jid), target, "👍")
    event = await _receive(ours, chat, key)
    assert target["id"] == event.message.reactionMessage.key.ID
    assert event.message.reactionMessage.text == "👍"
    # The key as the reactor wrote it (whatsmeow leaves it so): fromMe for its own message.
    assert event.message.reactionMessage.key.fromMe == chat.first
    key = await chat.peer.react(str(ours.jid), target, "")
    event = await _receive(ours, chat, key)
    assert target["id"] == event.message.reactionMessage.key.ID
    assert event.message.reactionMessage.text == ""


async def test_edit_from_baileys(ours: Ours, chat: Chat) -> None:
    original = await chat.peer.send_text(str(ours.jid), "teh typo")
    await _receive(ours, chat, original)
    key = await chat.peer.edit(str(ours.jid), original, "the typo")
    event = await _receive(ours, chat, key)
    assert event.info.edit == "1"  # Baileys sends the bare protocolMessage, unwrapped
    protocol = event.message.protocolMessage
    assert protocol.type == protocol.MESSAGE_EDIT and original["id"] == protocol.key.ID
    edited = protocol.editedMessage
    assert (edited.conversation or edited.extendedTextMessage.text) == "the typo"


async def test_revoke_from_baileys(ours: Ours, chat: Chat) -> None:
    original = await chat.peer.send_text(str(ours.jid), "wrong chat")
    await _receive(ours, chat, original)
    key = await chat.peer.revoke(str(ours.jid), original)
    event = await _receive(ours, chat, key)
    assert event.info.edit == "7"
    protocol = event.message.protocolMessage
    assert protocol.type == protocol.REVOKE and original["id"] == protocol.key.ID


async def test_poll_and_vote_from_baileys(ours: Ours, chat: Chat) -> None:
    """Baileys' vote, decrypted by ``client.messages.decrypt_poll_vote``: on its own poll
    (first contact) or on ours."""
    options = ["Pizza", "Sushi", "Salad"]
    if chat.first:
        poll = await chat.peer.send_poll(str(ours.jid), "Lunch?", options)
        received = await _receive(ours, chat, poll)
        creation = received.message.pollCreationMessageV3
        assert creation.name == "Lunch?" and [o.optionName for o in creation.options] == options
    else:
        sent = await ours.client.send_message(_peer_chat(chat), mb.poll("Lunch?", options))
        seen = await chat.peer.wait_message(lambda m: m["key"]["id"] == sent.id)
        poll = seen["key"]
    vote = await chat.peer.vote(poll, ["Sushi"])
    update = await _receive(ours, chat, vote["key"])
    assert poll["id"] == update.message.pollUpdateMessage.pollCreationMessageKey.ID
    decrypted = await ours.client.messages.decrypt_poll_vote(update)
    assert list(decrypted.selectedOptions) == [mb.poll_option_hash("Sushi")]


async def test_location_from_baileys(ours: Ours, chat: Chat) -> None:
    key = await chat.peer.send_location(str(ours.jid), 52.3676, 4.9041, name="Dam Square")
    event = await _receive(ours, chat, key)
    location = event.message.locationMessage
    assert (location.degreesLatitude, location.degreesLongitude) == (52.3676, 4.9041)
    assert location.name == "Dam Square"


async def test_contact_from_baileys(ours: Ours, chat: Chat) -> None:
    card = mb.vcard("Dora", "+15550009999")
    key = await chat.peer.send_contact(str(ours.jid), "Dora", card)
    event = await _receive(ours, chat, key)
    contact = event.message.contactMessage
    assert contact.displayName == "Dora" and contact.vcard == card


# ---- receipts, typing, our other devices ------------------------------------------------------


async def test_read_receipt_to_baileys(ours: Ours, known: BaileysPeer) -> None:
    key = await known.send_text(str(ours.jid), "did you read this?")
    event = await ours.events.message(str(key["id"]))
    await ours.client.mark_read(event.info.chat, event.info.sender, [event.info.id])
    update = await known.wait_status(key["id"], READ)
    assert update["key"]["fromMe"] is True


async def test_read_receipt_from_baileys(ours: Ours, known: BaileysPeer) -> None:
    sent = await ours.client.send_message(JID(BAILEYS, PN), mb.text("did you read this?"))
    event = await known.wait_message(lambda m: m["key"]["id"] == sent.id)
    await known.read([event["key"]])
    receipt = await ours.events.wait(
        Receipt, lambda r: r.type == "read" and sent.id in r.message_ids
    )
    assert known.is_me(str(receipt.sender)) and known.is_me(str(receipt.chat))
    assert not receipt.is_from_me and not receipt.is_group


def _presence_is(event: Event, state: str) -> bool:
    return event["event"] == "presence.update" and any(
        p.get("lastKnownPresence") == state for p in event["data"]["presences"].values()
    )


def _typing_is(kind: str, event: ChatPresence) -> bool:
    return event.state == kind


async def test_typing_to_baileys(ours: Ours, known: BaileysPeer) -> None:
    peer = JID(BAILEYS, PN)
    for state, media, seen in (
        (ChatState.COMPOSING, ChatStateMedia.TEXT, "composing"),
        (ChatState.COMPOSING, ChatStateMedia.AUDIO, "recording"),
        (ChatState.PAUSED, ChatStateMedia.TEXT, "available"),  # Baileys' word for paused
    ):
        await send_chat_presence(ours.client, peer, state, media)
        update = await known.wait_for(functools.partial(_presence_is, state=seen))
        [who] = update["data"]["presences"]
        assert user_of(who) in ours.users and user_of(update["data"]["id"]) in ours.users


async def test_typing_from_baileys(ours: Ours, known: BaileysPeer) -> None:
    for state, kind, media in (
        ("composing", "composing", ""),
        ("recording", "composing", "audio"),
        ("paused", "paused", ""),
    ):
        await known.presence(state, str(ours.jid))
        typing = await ours.events.wait(ChatPresence, functools.partial(_typing_is, kind))
        assert typing.media == media
        assert known.is_me(str(typing.sender)) and known.is_me(str(typing.chat))
        assert not typing.is_from_me and not typing.is_group


async def test_our_other_devices_see_what_we_send(
    sim: SimulatorInfo, ours: Ours, ours2: Ours, known: BaileysPeer
) -> None:
    """DSM: our second device and account A's phone get what our client sent to Baileys."""
    peer = JID(BAILEYS, PN)
    sent = await ours.client.send_message(peer, mb.text("for Baileys, seen by us all"))
    await known.wait_message(lambda m: m["key"]["id"] == sent.id)
    copy = await ours2.events.message(sent.id)
    assert copy.info.is_from_me and copy.info.chat.user == BAILEYS
    assert copy.info.device_sent_destination is not None
    assert copy.info.device_sent_destination.user == BAILEYS
    assert _text(copy) == "for Baileys, seen by us all"
    status, body = await admin(sim, "GET", f"/accounts/{OURS}/received?id={sent.id}&timeout=10")
    assert status == 200, body
    [phone] = [m for m in body["messages"] if m["id"] == sent.id]
    assert phone["chat"] == str(peer)
    assert phone["message"]["conversation"] == "for Baileys, seen by us all"

    reaction = ours.client.build_reaction(peer, sent.id, None, "👍")
    reacted = await ours.client.send_message(peer, reaction)
    copy = await ours2.events.message(reacted.id)
    assert copy.info.is_from_me and sent.id == copy.message.reactionMessage.key.ID
