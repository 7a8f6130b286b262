"""Simulated phones talking to each other in process: DMs and group messages built, encrypted,
routed and decrypted by the simulator's own code (Signal sessions, sender keys, DSM copies),
and the admin request shapes (reactions, edits, revokes, polls and votes, locations, contacts).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair
from mautrix_whatsapp.whatsapp.signal.keys import SignedPreKeyRecord
from tests.simulator import phone_send
from tests.simulator.accounts import Account, LinkedDevice
from tests.simulator.admin_people import build_message, message_json
from tests.simulator.groups import Group, Participant, get_groups
from tests.simulator.notify import notify_identity_change
from tests.simulator.people import Person, ReceivedMessage, get_people
from tests.simulator.phone import PhoneWorld, get_world
from tests.simulator.relay import route_receipt
from tests.simulator.routing import Sender
from tests.simulator.server import Simulator
from tests.simulator.state import AdminError, ServerState
from tests.simulator.usync import watchers

ALICE, BOB, CAROL = "15550000101", "15550000202", "15550000303"


def _world() -> tuple[ServerState, PhoneWorld]:
    state = Simulator().state
    return state, get_world(state)


def _jid(phone: str) -> JID:
    return JID(phone, "s.whatsapp.net")


def _companion(account: Account) -> int:
    """A confirmed companion with the keys it registered with (it uploaded none)."""
    device_id, key_index = account.allocate_device()
    identity = KeyPair.generate()
    signed = SignedPreKeyRecord.generate(identity, 1)
    account.devices[device_id] = LinkedDevice(
        device_id,
        os.urandom(32),
        identity.public,
        1,
        key_index,
        "test",
        signed_pre_key_id=1,
        signed_pre_key_public=signed.key_pair.public,
        signed_pre_key_signature=signed.signature,
        confirmed=True,
    )
    return device_id


async def _next(person: Person, message_id: str) -> ReceivedMessage:
    for received in person.received:
        if received.id == message_id:
            return received
    future: asyncio.Future[ReceivedMessage] = asyncio.get_running_loop().create_future()
    person.waiters.append((lambda m: m.id == message_id, future))
    async with asyncio.timeout(5):
        return await future


async def test_phones_exchange_dms_and_read_them() -> None:
    state, world = _world()
    alice, bob = world.accounts.create(ALICE, "Alice"), world.accounts.create(BOB, "Bob")
    people = get_people(state)
    first, _ = await phone_send.send(state, alice, _jid(BOB), phone_send.text_message("hi"))
    got = await _next(people.of(bob), first)
    assert got.message.conversation == "hi" and got.sender == alice.jid and got.chat == alice.jid
    # Bob's phone answered with a delivery receipt; now he replies, quoting.
    assert people.of(alice).receipts[-1].ids == [first]
    reply = build_message(
        people.of(bob), _jid(ALICE), {"text": "hello", "reply_to": {"id": first}}
    )
    second, _ = await phone_send.send(state, bob, _jid(ALICE), reply)
    got = await _next(people.of(alice), second)
    context = got.message.extendedTextMessage.contextInfo
    assert context.stanzaID == first and context.participant == alice.jid
    assert context.quotedMessage.conversation == "hi"


async def test_phone_group_message_with_sender_key_and_dsm() -> None:
    state, world = _world()
    alice = world.accounts.create(ALICE, "Alice")
    bob = world.accounts.create(BOB, "Bob")
    world.accounts.create(CAROL, "Carol")
    device_id = _companion(alice)
    group = Group(id="120363000000000077", subject="G", creator=ALICE)
    for account in (alice, bob):
        group.participants[account.phone] = Participant(account.phone, account.lid)
    get_groups(state).add(group)
    people = get_people(state)
    group_jid = JID.parse(group.jid)
    for text in ("one", "two"):
        message_id, _ = await phone_send.send(
            state, alice, group_jid, phone_send.text_message(text)
        )
        got = await _next(people.of(bob), message_id)
        assert got.message.conversation == text and got.chat == group.jid
        assert got.sender == alice.jid
    # Alice's offline companion got the skmsg and, the first time, her sender key (encrypted
    # with the keys it registered with: it has uploaded none).
    queued = world.offline_queues[(ALICE, device_id)]
    [first, second] = [n for n in queued if n.tag == "message"]
    # Bob's phone told every device of Alice that it got them.
    receipts = [n for n in queued if n.tag == "receipt"]
    assert [r.attrs["participant"] for r in receipts] == [JID.parse(bob.jid)] * 2
    assert [e.attrs["type"] for e in first.children] == ["pkmsg", "skmsg"]
    assert [e.attrs["type"] for e in second.children] == ["skmsg"]
    assert first.attrs["participant"] == JID.parse(alice.jid)
    assert (CAROL, 0) not in world.offline_queues
    with pytest.raises(phone_send.SendError):
        await phone_send.send(
            state, world.accounts.get(CAROL), group_jid, phone_send.text_message("x")
        )


async def test_admin_request_shapes() -> None:
    state, world = _world()
    alice, bob = world.accounts.create(ALICE, "Alice"), world.accounts.create(BOB, "Bob")
    people = get_people(state)
    me, chat = people.of(alice), _jid(BOB)
    poll = build_message(me, chat, {"poll": {"name": "Lunch?", "options": ["yes", "no"]}})
    poll_id, _ = await phone_send.send(state, alice, chat, poll)
    assert phone_send.message_type(poll) == "poll"
    assert len(poll.messageContextInfo.messageSecret) == 32
    assert [o.optionName for o in poll.pollCreationMessageV3.options] == ["yes", "no"]

    # Bob's phone saw the poll; his vote is encrypted with its secret, and readable with it.
    await _next(people.of(bob), poll_id)
    vote = build_message(people.of(bob), _jid(ALICE), {"vote": {"id": poll_id, "options": ["no"]}})
    update = vote.pollUpdateMessage
    assert (
        poll_id == update.pollCreationMessageKey.ID
        and update.pollCreationMessageKey.fromMe is False
    )
    decrypted = phone_send.decrypt_vote(
        update, JID.parse(alice.jid), JID.parse(bob.jid), poll.messageContextInfo.messageSecret
    )
    assert len(decrypted.selectedOptions) == 1
    # Sent to Alice, whose phone shows which option Bob chose.
    vote_id, _ = await phone_send.send(state, bob, _jid(ALICE), vote)
    got = await _next(me, vote_id)
    assert message_json(me, got)["poll_vote"] == {"options": ["no"]}

    reaction = build_message(me, chat, {"reaction": {"id": poll_id, "emoji": "👍"}})
    assert reaction.reactionMessage.key.fromMe and reaction.reactionMessage.text == "👍"
    assert phone_send.message_type(reaction) == "reaction"
    removal = build_message(me, chat, {"reaction": {"id": poll_id, "emoji": ""}})
    assert phone_send.edit_attribute(removal) == "7"
    edit = build_message(me, chat, {"edit": {"id": poll_id, "text": "new"}})
    assert phone_send.edit_attribute(edit) == "1"
    assert edit.protocolMessage.editedMessage.conversation == "new"
    revoke = build_message(me, chat, {"revoke": {"id": poll_id}})
    assert phone_send.edit_attribute(revoke) == "7"
    location = build_message(me, chat, {"location": {"latitude": 52.5, "longitude": 13.4}})
    assert location.locationMessage.degreesLatitude == 52.5
    contact = build_message(me, chat, {"contact": {"name": "C", "vcard": "BEGIN:VCARD"}})
    assert contact.contactMessage.displayName == "C"
    mention = build_message(me, chat, {"text": "@b", "mentions": [BOB]})
    assert list(mention.extendedTextMessage.contextInfo.mentionedJID) == [bob.jid]
    with pytest.raises(AdminError):  # a message nobody knows, without its sender
        build_message(me, chat, {"reaction": {"id": "NOPE", "emoji": "x"}})
    with pytest.raises(AdminError):
        build_message(me, chat, {"poll": {"name": "one option", "options": ["a"]}})
    with pytest.raises(AdminError):
        build_message(me, chat, {})


async def test_identity_change_notifies_who_knows_the_account() -> None:
    state, world = _world()
    alice: Account = world.accounts.create(ALICE, "Alice")
    bob = world.accounts.create(BOB, "Bob")
    for account in (alice, bob):
        device_id, key_index = account.allocate_device()
        account.devices[device_id] = LinkedDevice(
            device_id, os.urandom(32), os.urandom(32), 1, key_index, "test", confirmed=True
        )
    watchers(state).setdefault(ALICE, set()).add((BOB, 1))
    assert notify_identity_change(state, alice) == 2
    for phone in (ALICE, BOB):
        [note] = world.offline_queues[(phone, 1)]
        assert note.attrs["type"] == "encrypt" and note.children[0].tag == "identity"


async def test_phone_resends_a_group_message_to_the_device_that_asked() -> None:
    state, world = _world()
    alice, bob = world.accounts.create(ALICE, "Alice"), world.accounts.create(BOB, "Bob")
    bob_device = _companion(bob)
    group = Group(id="120363000000000088", subject="G", creator=ALICE, addressing_mode="lid")
    for account in (alice, bob):
        group.participants[account.phone] = Participant(account.phone, account.lid)
    get_groups(state).add(group)
    group_jid = JID.parse(group.jid)
    message_id, t = await phone_send.send(state, alice, group_jid, phone_send.text_message("g"))
    await _next(get_people(state).of(bob), message_id)  # Bob's phone read it
    world.offline_queues.clear()
    retry = Node(
        "receipt",
        {
            "to": group_jid,
            "id": message_id,
            "type": "retry",
            "participant": JID.parse(alice.lid_jid),
        },
        [
            Node("retry", {"count": "1", "id": message_id, "t": str(t), "v": "1"}),
            Node("registration", {}, b"\x00\x00\x00\x01"),
        ],
    )
    route_receipt(state, Sender(bob, bob_device), retry, t)
    # The phone answers in tasks of its own: wait for them all to finish.
    others = asyncio.all_tasks() - {asyncio.current_task()}
    async with asyncio.timeout(5):
        await asyncio.gather(*others)
    [again] = world.offline_queues[(BOB, bob_device)]
    assert again.attrs["id"] == message_id and again.attrs["from"] == group_jid
    assert again.attrs["participant"] == JID.parse(f"{alice.lid}@lid")
    [enc] = again.children
    assert enc.attrs["count"] == "1" and enc.attrs["type"] == "pkmsg"
    # Only the device that asked: Bob's phone and Alice's devices got nothing again.
    assert set(world.offline_queues) == {(BOB, bob_device)}
