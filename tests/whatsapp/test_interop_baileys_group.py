"""Our client (account A) and Baileys 7.0.0-rc14 (B, C) in groups, through the simulator.

Issue 8's acceptance for groups: each kind of message in both directions, decoded fields asserted
on the receiving side (Baileys' ``messages.upsert`` JSON, our :class:`~events.Message`); groups
created by us, by Baileys and (LID-addressed) by a simulated phone (Dora); a member added later
receives, a removed one does not, and our sender key was rotated, proven the way a counterpart
could: Carol's last sender-key distribution message (as her Baileys decoded it) cannot decrypt
the ``skmsg`` that went over the wire after her removal, while Bob's new one can.

Module-scoped: one simulator, one linked client, two Baileys peers (Bob, Carol); each test
waits only for what it caused (by message id).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp import group
from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.binary.node import Node
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import (
    ChatPresence,
    JoinedGroup,
    Message,
    Receipt,
)
from mautrix_whatsapp.whatsapp.group import ParticipantAction
from mautrix_whatsapp.whatsapp.presence import ChatState, send_chat_presence
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.signal.errors import SignalError
from mautrix_whatsapp.whatsapp.signal.group_cipher import decrypt_with_record
from mautrix_whatsapp.whatsapp.signal.group_session import (
    SenderKeyDistributionMessage,
    process_distribution,
)
from mautrix_whatsapp.whatsapp.signal.padding import unpad_message
from mautrix_whatsapp.whatsapp.signal.sender_key import SenderKeyRecord
from mautrix_whatsapp.whatsapp.store import MemorySignalStore
from tests.baileys_fixtures import _peer, linked_client, sim
from tests.baileys_peer import BaileysPeer, Event, text_of, user_of
from tests.simulator_fixture import SimulatorInfo
from tests.whatsapp.test_client_helpers import EventLog, admin

__all__ = ["sim"]  # fixtures used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(90)]

E = TypeVar("E")
PN = "s.whatsapp.net"
OURS, BOB, CAROL, DORA = "15550002001", "15550002002", "15550002003", "15550002004"
WAIT = 10.0


def pn(phone: str) -> JID:
    return JID(phone, PN)


class Ours:
    """Our linked client, its events, and every stanza it sent (as the server saw it)."""

    def __init__(self, client: Client, log: EventLog) -> None:
        self.client = client
        self.log = log
        self.sent: list[Node] = []
        original = client.send_node

        async def capture(node: Node) -> None:
            self.sent.append(node)
            await original(node)

        client.send_node = capture  # type: ignore[method-assign]

    async def wait(self, kind: type[E], match: Callable[[E], bool], timeout: float = WAIT) -> E:
        """The first event of ``kind`` that ``match``es, waiting for it if needed."""
        changed = self.log._changed
        found: list[E] = []

        def ready() -> bool:
            found[:] = [e for e in self.log.of(kind) if match(e)]
            return bool(found)

        try:
            async with asyncio.timeout(timeout), changed:
                await changed.wait_for(ready)
        except TimeoutError:
            recent = self.log.events[-10:]
            raise TimeoutError(f"no {kind.__name__} matched in {timeout}s: {recent}") from None
        return found[0]

    async def message(self, message_id: str) -> Message:
        return await self.wait(Message, lambda m: m.info.id == message_id)

    def stanza(self, message_id: str) -> Node:
        """The ``<message>`` stanza we sent with this id."""
        [node] = [n for n in self.sent if n.tag == "message" and n.attrs.get("id") == message_id]
        return node


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ours(sim: SimulatorInfo) -> AsyncIterator[Ours]:
    """Our client, linked to account A (+15550002001) by a QR scan."""
    async for client, log in linked_client(sim, OURS, "Ours"):
        yield Ours(client, log)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bob(
    sim: SimulatorInfo, ours: Ours, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BaileysPeer]:
    """Baileys as Bob; linked after our client (a scan links the latest default account)."""
    async for peer in _peer(sim, tmp_path_factory, "Bob", BOB):
        yield peer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def carol(
    sim: SimulatorInfo, bob: BaileysPeer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BaileysPeer]:
    """Baileys as Carol; linked after Bob."""
    async for peer in _peer(sim, tmp_path_factory, "Carol", CAROL):
        yield peer


def content(event: Event, kind: str) -> dict[str, Any]:
    """One message type's JSON from a Baileys upsert (empty if it is not that type)."""
    return dict((event.get("message") or {}).get(kind) or {})


def by_id(message_id: str) -> Callable[[Event], bool]:
    """A Baileys upsert (or update) of ``message_id``."""
    return lambda event: "key" in event and event["key"]["id"] == message_id


def ours_text(message: wa_e2e_pb2.Message) -> str:
    """The text of a message our client decoded (plain or extended)."""
    return message.conversation or message.extendedTextMessage.text


def joined(chat: JID) -> Callable[[Event], bool]:
    """Baileys learnt that it is in ``chat`` (created with it, or added)."""
    return lambda event: (
        event["event"] in ("groups.upsert", "group-participants.update")
        and str(chat) in str(event["data"])
    )


async def test_group_created_by_us_text_both_ways(
    sim: SimulatorInfo, ours: Ours, bob: BaileysPeer, carol: BaileysPeer
) -> None:
    """The first words between us and each peer: without a session, then with one."""
    info = await group.create_group(ours.client, "Ours, Bob, Carol", [pn(BOB), pn(CAROL)])
    chat = info.jid
    assert {p.jid.user for p in info.participants} == {OURS, BOB, CAROL}
    for peer in (bob, carol):
        await peer.wait_for(joined(chat))

    # Bob speaks first: no session with us, so his sender key comes in a pkmsg built on one
    # of our one-time pre-keys (which is used up).
    signal_store = ours.client.signal_store
    assert isinstance(signal_store, MemorySignalStore)
    pre_keys = set(signal_store.pre_keys)
    key = await bob.send_text(str(chat), "hello from Bob")
    got = await ours.message(key["id"])
    assert ours_text(got.message) == "hello from Bob"
    assert got.info.chat == chat and got.info.is_group and not got.info.is_from_me
    assert BOB in {got.info.sender.user, got.info.sender_alt and got.info.sender_alt.user}
    assert got.info.push_name == "Bob"
    assert len(pre_keys - set(signal_store.pre_keys)) == 1
    event = await carol.wait_message(by_id(key["id"]))
    assert text_of(event) == "hello from Bob" and bob.is_me(event["key"]["participant"])

    # Our answer: to Bob's device over the session he started (msg), to Carol's without one.
    sent = await ours.client.send_message(chat, mb.text("hello group"))
    targets = enc_targets(ours.stanza(sent.id))
    bob_device = JID.parse(bob.me["id"])
    assert targets[str(JID(BOB, PN, bob_device.device))] == "msg", targets
    carols = {jid: kind for jid, kind in targets.items() if JID.parse(jid).user == CAROL}
    assert len(carols) == 2 and set(carols.values()) == {"pkmsg"}, targets
    for peer in (bob, carol):
        event = await peer.wait_message(by_id(sent.id))
        assert text_of(event) == "hello group"
        assert event["key"]["remoteJid"] == str(chat)
        assert user_of(event["key"]["participant"]) == OURS
        assert event["pushName"] == "Ours"
    # Our own phone got it too (a deviceSentMessage, unwrapped by the simulated phone).
    status, own = await admin(sim, "GET", f"/accounts/{OURS}/received?id={sent.id}&timeout=10")
    assert status == 200, own
    [copy] = [m for m in own["messages"] if m["id"] == sent.id]
    assert copy["chat"] == str(chat) and copy["message"]["conversation"] == "hello group"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def trio(ours: Ours, bob: BaileysPeer, carol: BaileysPeer) -> JID:
    """A group our client created with Bob and Carol, for the tests of each kind of message."""
    info = await group.create_group(ours.client, "Trio", [pn(BOB), pn(CAROL)])
    for peer in (bob, carol):
        await peer.wait_for(joined(info.jid))
    return info.jid


def context_of(event: Event) -> dict[str, Any]:
    return dict(content(event, "extendedTextMessage").get("contextInfo") or {})


async def test_mentions_both_ways(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer, trio: JID
) -> None:
    sent = await ours.client.send_message(trio, mb.mention(f"@{BOB} look", [pn(BOB)]))
    for peer in (bob, carol):
        event = await peer.wait_message(by_id(sent.id))
        assert text_of(event) == f"@{BOB} look"
        assert context_of(event)["mentionedJid"] == [f"{BOB}@{PN}"]

    key = await bob.send_text(str(trio), f"@{OURS} you too", mentions=[f"{OURS}@{PN}"])
    got = await ours.message(key["id"])
    assert got.message.extendedTextMessage.text == f"@{OURS} you too"
    assert list(got.message.extendedTextMessage.contextInfo.mentionedJID) == [f"{OURS}@{PN}"]


async def test_replies_both_ways(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer, trio: JID
) -> None:
    question = await ours.client.send_message(trio, mb.text("who's in?"))
    event = await bob.wait_message(by_id(question.id))
    answer = await bob.send_text(str(trio), "me", quoted=event["key"])
    got = await ours.message(answer["id"])
    context = got.message.extendedTextMessage.contextInfo
    assert got.message.extendedTextMessage.text == "me"
    assert context.stanzaID == question.id
    assert JID.parse(context.participant).user == OURS
    assert context.quotedMessage.conversation == "who's in?"

    reply = mb.reply("great", answer["id"], got.info.sender, got.message)
    sent = await ours.client.send_message(trio, reply)
    for peer in (bob, carol):
        event = await peer.wait_message(by_id(sent.id))
        quoting = context_of(event)
        assert text_of(event) == "great" and quoting["stanzaId"] == answer["id"]
        assert bob.is_me(quoting["participant"])
        assert quoting["quotedMessage"]["extendedTextMessage"]["text"] == "me"


async def test_reactions_and_removal_both_ways(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer, trio: JID
) -> None:
    # Bob reacts to our message, then takes the reaction back.
    sent = await ours.client.send_message(trio, mb.text("react to me"))
    event = await bob.wait_message(by_id(sent.id))
    for emoji in ("👍", ""):
        reaction = await bob.react(str(trio), event["key"], emoji)
        got = await ours.message(reaction["id"])
        assert got.info.type == "reaction"
        assert sent.id == got.message.reactionMessage.key.ID
        assert got.message.reactionMessage.text == emoji
        seen = await carol.wait_reaction(sent.id)
        assert seen["reaction"]["text"] == emoji

    # We react to Bob's message, then take it back.
    key = await bob.send_text(str(trio), "and to me")
    theirs = await ours.message(key["id"])
    for emoji in ("🎉", ""):
        message = ours.client.build_reaction(trio, key["id"], theirs.info.sender, emoji)
        sent = await ours.client.send_message(trio, message)
        upsert = await bob.wait_message(by_id(sent.id))
        assert content(upsert, "reactionMessage")["key"]["id"] == key["id"]
        assert content(upsert, "reactionMessage").get("text", "") == emoji
        assert bob.is_me(content(upsert, "reactionMessage")["key"]["participant"])
        summary = await carol.wait_reaction(key["id"])
        assert summary["reaction"]["text"] == emoji
        assert user_of(summary["reaction"]["key"]["participant"]) == OURS


async def test_edits_both_ways(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer, trio: JID
) -> None:
    sent = await ours.client.send_message(trio, mb.text("teh typo"))
    for peer in (bob, carol):
        await peer.wait_message(by_id(sent.id))
    edit = await ours.client.send_message(trio, mb.edit(trio, sent.id, mb.text("the typo")))
    assert ours.stanza(edit.id).attrs["edit"] == "1"
    for peer in (bob, carol):
        update = await peer.wait_edit(sent.id)
        edited = update["update"]["message"]["editedMessage"]["message"]
        assert text_of({"message": edited}) == "the typo", update

    key = await bob.send_text(str(trio), "bobs typo")
    await ours.message(key["id"])
    fix = await bob.edit(str(trio), key, "Bob's typo")
    got = await ours.message(fix["id"])
    assert got.info.edit == "1"
    protocol = got.message.protocolMessage
    assert protocol.type == wa_e2e_pb2.ProtocolMessage.MESSAGE_EDIT
    assert key["id"] == protocol.key.ID
    edited = protocol.editedMessage
    assert (edited.conversation or edited.extendedTextMessage.text) == "Bob's typo"


async def test_revokes_both_ways(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer, trio: JID
) -> None:
    sent = await ours.client.send_message(trio, mb.text("wrong group"))
    for peer in (bob, carol):
        await peer.wait_message(by_id(sent.id))
    revoke = await ours.client.send_message(trio, ours.client.build_revoke(trio, sent.id))
    assert ours.stanza(revoke.id).attrs["edit"] == "7"
    for peer in (bob, carol):
        update = await peer.wait_revoke(sent.id)
        assert update["update"]["message"] is None
        assert update["update"]["messageStubType"] == 1  # WAMessageStubType.REVOKE

    key = await bob.send_text(str(trio), "oops")
    await ours.message(key["id"])
    gone = await bob.revoke(str(trio), key)
    got = await ours.message(gone["id"])
    assert got.info.edit == "7"
    assert got.message.protocolMessage.type == wa_e2e_pb2.ProtocolMessage.REVOKE
    assert key["id"] == got.message.protocolMessage.key.ID


def option_hash(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


async def test_polls_and_votes_both_ways(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer, trio: JID
) -> None:
    # Our poll; Bob votes; we decrypt his vote.
    sent = await ours.client.send_message(trio, mb.poll("Lunch?", ["Pizza", "Sushi", "Salad"]))
    for peer in (bob, carol):
        event = await peer.wait_message(by_id(sent.id))
        creation = content(event, "pollCreationMessageV3") or content(event, "pollCreationMessage")
        assert creation["name"] == "Lunch?"
        assert [o["optionName"] for o in creation["options"]] == ["Pizza", "Sushi", "Salad"]
        assert event["message"]["messageContextInfo"]["messageSecret"]
        if peer is bob:
            poll_event = event
    vote = await bob.vote(poll_event["key"], ["Sushi"])
    got = await ours.message(vote["key"]["id"])
    assert sent.id == got.message.pollUpdateMessage.pollCreationMessageKey.ID
    decrypted = await ours.client.messages.decrypt_poll_vote(got)
    assert list(decrypted.selectedOptions) == [option_hash("Sushi")]

    # Bob's poll; we vote; Bob (and Carol, who has the poll too) decrypt our vote.
    poll = await bob.send_poll(str(trio), "Dinner?", ["Curry", "Pasta"])
    theirs = await ours.message(poll["id"])
    assert theirs.message.pollCreationMessageV3.name or theirs.message.pollCreationMessage.name
    await carol.wait_message(by_id(poll["id"]))
    ballot = await ours.client.build_poll_vote(trio, poll["id"], theirs.info.sender, ["Pasta"])
    cast = await ours.client.send_message(trio, ballot)
    for peer in (bob, carol):
        upsert = await peer.wait_message(by_id(cast.id))
        assert content(upsert, "pollUpdateMessage")["pollCreationMessageKey"]["id"] == poll["id"]
        assert upsert["poll_vote"].get("selected") == ["Pasta"], upsert["poll_vote"]


async def test_read_receipts_both_ways(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer, trio: JID
) -> None:
    sent = await ours.client.send_message(trio, mb.text("read me"))
    event = await bob.wait_message(by_id(sent.id))
    await bob.read([event["key"]])
    receipt = await ours.wait(Receipt, lambda r: sent.id in r.message_ids and r.type == "read")
    assert receipt.chat == trio and receipt.is_group and receipt.sender.user == BOB

    key = await bob.send_text(str(trio), "and me")
    got = await ours.message(key["id"])
    await ours.client.mark_read(trio, got.info.sender, [key["id"]])
    receipts = [n for n in ours.sent if n.tag == "receipt" and n.attrs["id"] == key["id"]]
    [sent_receipt] = [n for n in receipts if n.attrs.get("type") == "read"]
    assert JID.parse(str(sent_receipt.attrs["participant"])).user == BOB
    assert sent_receipt.attrs["to"] == trio
    # Baileys reports each member's receipt for a group message as a message-receipt.update.
    update = await bob.wait_for(
        lambda e: (
            e["event"] == "message-receipt.update"
            and e["key"]["id"] == key["id"]
            and user_of(e["receipt"]["userJid"]) == OURS
            and "readTimestamp" in e["receipt"]
        )
    )
    assert update["key"]["remoteJid"] == str(trio) and update["key"]["fromMe"] is True
    assert update["receipt"]["readTimestamp"] > 0


async def test_typing_both_ways(ours: Ours, bob: BaileysPeer, trio: JID) -> None:
    for state in ("composing", "paused"):
        await bob.presence(state, str(trio))
        typing = await ours.wait(ChatPresence, chat_state_is(trio, state))
        assert typing.is_group and typing.sender.user == BOB and not typing.is_from_me

    # What Baileys reports for each chat state it receives ("paused" reads as "available").
    for sent_state, seen in ((ChatState.COMPOSING, "composing"), (ChatState.PAUSED, "available")):
        await send_chat_presence(ours.client, trio, sent_state)
        await bob.wait_for(presence_in(trio, OURS, seen))


def chat_state_is(chat: JID, state: str) -> Callable[[ChatPresence], bool]:
    return lambda presence: presence.chat == chat and presence.state == state


def presence_in(chat: JID, phone: str, state: str) -> Callable[[Event], bool]:
    """Baileys' ``presence.update`` for ``chat`` saying ``phone``'s account is in ``state``."""

    def match(event: Event) -> bool:
        if event["event"] != "presence.update" or event["data"]["id"] != str(chat):
            return False
        presences: dict[str, dict[str, Any]] = event["data"]["presences"]
        return any(
            user_of(who) == phone and presence.get("lastKnownPresence") == state
            for who, presence in presences.items()
        )

    return match


# --- membership ------------------------------------------------------------------------------


def skdm_of(event: Event) -> SenderKeyDistributionMessage | None:
    """The sender key a Baileys upsert came with (Baileys merges the pkmsg/msg content, the
    ``senderKeyDistributionMessage``, into the message it reports)."""
    data = content(event, "senderKeyDistributionMessage").get(
        "axolotlSenderKeyDistributionMessage"
    )
    return None if data is None else SenderKeyDistributionMessage.parse(base64.b64decode(data))


def skmsg_of(stanza: Node) -> bytes:
    """The group ciphertext of a ``<message>`` we sent, as every member received it."""
    [enc] = [c for c in stanza.children if c.tag == "enc" and c.attrs.get("type") == "skmsg"]
    return enc.content_bytes()


def decrypt_with(distribution: SenderKeyDistributionMessage, skmsg: bytes) -> wa_e2e_pb2.Message:
    """Decrypt ``skmsg`` holding only ``distribution``, as a member who got it would."""
    record = SenderKeyRecord()
    process_distribution(record, distribution)
    message = wa_e2e_pb2.Message()
    message.ParseFromString(unpad_message(decrypt_with_record(record, skmsg)))
    return message


def enc_targets(stanza: Node) -> dict[str, str]:
    """Each device we sent our sender key to in ``stanza``, with its ``<enc>`` type."""
    participants = stanza.get_optional_child_by_tag("participants")
    if participants is None:
        return {}
    return {
        str(to.attrs["jid"]): str(enc.attrs["type"])
        for to in participants.children
        for enc in to.children
    }


async def test_a_member_added_later_receives(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer
) -> None:
    chat = (await group.create_group(ours.client, "Later", [pn(BOB)])).jid
    await bob.wait_for(joined(chat))
    early = await ours.client.send_message(chat, mb.text("before Carol"))
    await bob.wait_message(by_id(early.id))

    [result] = await group.update_participants(
        ours.client, chat, [pn(CAROL)], ParticipantAction.ADD
    )
    assert (result.jid.user, result.status) == (CAROL, 200)
    await carol.wait_for(joined(chat))

    sent = await ours.client.send_message(chat, mb.text("welcome Carol"))
    # Only Carol's devices lacked our sender key.
    assert {JID.parse(jid).user for jid in enc_targets(ours.stanza(sent.id))} == {CAROL}
    for peer in (bob, carol):
        event = await peer.wait_message(by_id(sent.id))
        assert text_of(event) == "welcome Carol" and event["key"]["remoteJid"] == str(chat)
    key = await bob.send_text(str(chat), "hi Carol")
    event = await carol.wait_message(by_id(key["id"]))
    assert text_of(event) == "hi Carol" and bob.is_me(event["key"]["participant"])
    assert (await ours.message(key["id"])).info.chat == chat
    # What was said before she came, she never got.
    assert not carol.unconsumed(by_id(early.id))


async def test_a_removed_member_does_not_receive_and_our_sender_key_rotated(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer
) -> None:
    chat = (await group.create_group(ours.client, "Rotation", [pn(BOB), pn(CAROL)])).jid
    for peer in (bob, carol):
        await peer.wait_for(joined(chat))
    before = await ours.client.send_message(chat, mb.text("before"))
    old_keys = [skdm_of(await peer.wait_message(by_id(before.id))) for peer in (bob, carol)]
    carols_key = old_keys[1]
    assert carols_key is not None and old_keys[0] is not None
    assert carols_key.key_id == old_keys[0].key_id
    # Control: the key Carol holds opens what we sent while she was a member.
    assert decrypt_with(carols_key, skmsg_of(ours.stanza(before.id))).conversation == "before"

    [result] = await group.update_participants(
        ours.client, chat, [pn(CAROL)], ParticipantAction.REMOVE
    )
    assert (result.jid.user, result.status) == (CAROL, 200)
    await carol.wait_for(
        lambda e: (
            e["event"] == "group-participants.update"
            and e["data"]["id"] == str(chat)
            and e["data"]["action"] == "remove"
        )
    )

    after = await ours.client.send_message(chat, mb.text("after"))
    stanza = ours.stanza(after.id)
    assert CAROL not in {JID.parse(jid).user for jid in enc_targets(stanza)}
    event = await bob.wait_message(by_id(after.id))
    assert text_of(event) == "after"
    new_key = skdm_of(event)
    assert new_key is not None, "Bob got no new sender key after Carol left"
    assert new_key.key_id != carols_key.key_id
    assert new_key.signing_key != carols_key.signing_key
    # Carol's last sender key cannot open the new ciphertext; Bob's new one can.
    with pytest.raises(SignalError):
        decrypt_with(carols_key, skmsg_of(stanza))
    assert decrypt_with(new_key, skmsg_of(stanza)).conversation == "after"

    key = await bob.send_text(str(chat), "Bob, after")
    assert (await ours.message(key["id"])).info.chat == chat
    # A DM to Carol sent after both: once she has it, the group messages would have come first.
    marker = await ours.client.send_message(pn(CAROL), mb.text("you were removed"))
    await carol.wait_message(by_id(marker.id))
    assert not carol.unconsumed(lambda e: "key" in e and e["key"]["id"] in (after.id, key["id"]))


async def test_a_group_created_by_baileys(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer
) -> None:
    created = await bob.group_create("Bob's", [f"{OURS}@{PN}", carol.jid])
    chat = JID.parse(created["id"])
    joined_event = await ours.wait(JoinedGroup, lambda e: e.jid == chat)
    assert joined_event.info is not None and joined_event.info.subject == "Bob's"
    assert {p.jid.user for p in joined_event.info.participants} == {BOB, CAROL, OURS}
    assert joined_event.sender is not None and BOB in {
        joined_event.sender.user,
        joined_event.sender_pn and joined_event.sender_pn.user,
    }
    await carol.wait_for(joined(chat))

    for peer, phone in ((bob, BOB), (carol, CAROL)):
        key = await peer.send_text(str(chat), f"hello from {phone}")
        got = await ours.message(key["id"])
        assert got.info.chat == chat and got.info.is_group
        assert ours_text(got.message) == f"hello from {phone}"
        assert phone in {got.info.sender.user, got.info.sender_alt and got.info.sender_alt.user}

    # Their Baileys devices started sessions with us: our sender key goes over them (msg).
    sent = await ours.client.send_message(chat, mb.text("hello Bob's group"))
    targets = enc_targets(ours.stanza(sent.id))
    for peer, phone in ((bob, BOB), (carol, CAROL)):
        device = JID(phone, PN, JID.parse(peer.me["id"]).device)
        assert targets[str(device)] == "msg", targets
    for peer in (bob, carol):
        event = await peer.wait_message(by_id(sent.id))
        assert text_of(event) == "hello Bob's group"
        assert user_of(event["key"]["participant"]) == OURS


async def test_location_and_contact_both_ways(
    ours: Ours, bob: BaileysPeer, carol: BaileysPeer, trio: JID
) -> None:
    sent = await ours.client.send_message(trio, mb.location(52.3676, 4.9041, name="Dam"))
    for peer in (bob, carol):
        location = content(await peer.wait_message(by_id(sent.id)), "locationMessage")
        assert (location["degreesLatitude"], location["degreesLongitude"]) == (52.3676, 4.9041)
        assert location["name"] == "Dam"
    card = mb.vcard("Dora", f"+{DORA}")
    sent = await ours.client.send_message(trio, mb.contact("Dora", card))
    for peer in (bob, carol):
        contact = content(await peer.wait_message(by_id(sent.id)), "contactMessage")
        assert contact["displayName"] == "Dora" and contact["vcard"] == card

    key = await bob.send_location(str(trio), 48.8584, 2.2945, name="Tour Eiffel")
    got = await ours.message(key["id"])
    assert (got.message.locationMessage.degreesLatitude, got.message.locationMessage.name) == (
        48.8584,
        "Tour Eiffel",
    )
    vcard = f"BEGIN:VCARD\nVERSION:3.0\nFN:Erin\nTEL;waid={DORA}:+{DORA}\nEND:VCARD"
    key = await bob.send_contact(str(trio), "Erin", vcard)
    got = await ours.message(key["id"])
    assert got.info.type == "media"
    assert (got.message.contactMessage.displayName, got.message.contactMessage.vcard) == (
        "Erin",
        vcard,
    )


async def test_a_lid_addressed_group(sim: SimulatorInfo, ours: Ours, bob: BaileysPeer) -> None:
    """A group addressed by LIDs (made by Dora's phone): we send as our LID, Bob as his."""
    status, body = await admin(sim, "POST", "/accounts", {"phone": DORA, "push_name": "Dora"})
    assert status == 200, body
    status, created = await admin(
        sim,
        "POST",
        "/groups",
        {"phone": DORA, "subject": "LIDs", "members": [OURS, BOB], "addressing_mode": "lid"},
    )
    assert status == 200, created
    chat = JID.parse(created["jid"])
    await ours.wait(JoinedGroup, lambda e: e.jid == chat)
    await bob.wait_for(joined(chat))

    sent = await ours.client.send_message(chat, mb.text("by LID"))
    assert ours.stanza(sent.id).attrs["addressing_mode"] == "lid"
    assert sent.sender == ours.client.device.lid
    event = await bob.wait_message(by_id(sent.id))
    assert text_of(event) == "by LID" and event["key"]["remoteJid"] == str(chat)
    status, dora = await admin(sim, "GET", f"/accounts/{DORA}/received?id={sent.id}&timeout=10")
    assert status == 200, dora
    assert [m["message"]["conversation"] for m in dora["messages"] if m["id"] == sent.id] == [
        "by LID"
    ]

    key = await bob.send_text(str(chat), "LID back")
    got = await ours.message(key["id"])
    assert ours_text(got.message) == "LID back" and got.info.addressing_mode == "lid"
    assert got.info.sender.is_lid and got.info.sender_alt is not None
    assert got.info.sender_alt.user == BOB
