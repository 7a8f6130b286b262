"""Receiving messages through an offline client: stanzas encrypted by a peer made of our Signal
library, fed to the client's ``<message>`` handler; events and the receipts/acks it sends."""

from __future__ import annotations

import asyncio

import pytest

from mautrix_whatsapp.whatsapp.binary import Node
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import IdentityChanged, Message, UndecryptableMessage
from mautrix_whatsapp.whatsapp.message_info import parse_message_info
from mautrix_whatsapp.whatsapp.proto import wa_e2e_pb2
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.signal.cipher import SessionCipher
from mautrix_whatsapp.whatsapp.signal.keys import PreKeyBundle
from mautrix_whatsapp.whatsapp.signal.padding import pad_message

from .message_peer import (
    OWN,
    OWN_LID,
    Peer,
    client_bundle,
    enc,
    message_id,
    paired_client,
    stanza,
    text,
)
from .test_client_helpers import EventLog

BOB = JID("15552223333", "s.whatsapp.net", 0)
BOB_LID = JID("80000000000002", "lid")
CAROL = JID("15554445555", "s.whatsapp.net", 2)
GROUP = JID("120363000000000001", "g.us")


async def feed(client: Client, node: Node) -> None:
    await client._handle_node(node)


async def talking(
    peer_jid: JID = BOB, **kwargs: object
) -> tuple[Client, EventLog, list[Node], Peer]:
    client, log, sent = await paired_client(**kwargs)  # type: ignore[arg-type]
    peer = Peer(peer_jid)
    await peer.start(await client_bundle(client))
    return client, log, sent, peer


def texts(log: EventLog) -> list[str]:
    return [e.message.conversation for e in log.of(Message)]


async def test_dm_pkmsg_then_msg_is_decrypted_and_receipted() -> None:
    client, log, sent, bob = await talking()
    first = await bob.dm(text("hello"), notify="Bob", sender_lid=BOB_LID)
    assert first.children[0].attrs["type"] == "pkmsg"
    await feed(client, first)
    second = await bob.dm(text("again"))
    await feed(client, second)

    assert texts(log) == ["hello", "again"]
    info = log.of(Message)[0].info
    assert (info.chat, info.sender, info.is_from_me, info.is_group) == (BOB, BOB, False, False)
    assert info.push_name == "Bob" and info.id == first.attrs["id"] and info.type == "text"
    assert info.sender_alt == BOB_LID
    # The pre-key message consumed our one-time pre-key 1.
    assert not await client.signal_store.contains_pre_key(1)
    receipts = [n for n in sent if n.tag == "receipt"]
    assert [r.attrs["id"] for r in receipts] == [first.attrs["id"], second.attrs["id"]]
    # No presence announced (no push name): the sender sees us as inactive.
    assert receipts[0].attrs == {"id": first.attrs["id"], "to": BOB, "type": "inactive"}


async def test_active_client_sends_plain_delivery_receipt() -> None:
    client, _log, sent, bob = await talking(push_name="Me")
    node = await bob.dm(text("hi"))
    await feed(client, node)
    assert sent[-1].tag == "receipt" and "type" not in sent[-1].attrs


async def test_sender_lid_is_reported_and_used_for_the_session() -> None:
    client, _log, _sent, bob = await talking()
    mappings: list[tuple[JID | None, JID | None]] = []
    learn = client.lids.learn

    async def spy(lid: JID | None, pn: JID | None) -> None:
        mappings.append((lid, pn))
        await learn(lid, pn)

    client.lids.learn = spy  # type: ignore[method-assign]
    await feed(client, await bob.dm(text("x"), sender_lid=BOB_LID))
    assert mappings == [(BOB_LID, BOB)]
    assert await client.lids.get_lid(BOB) == BOB_LID
    # whatsmeow's rule: decrypt with the LID's session once the LID is known.
    store = client.signal_store
    assert await store.contains_session(SignalAddress("80000000000002_1", 0))
    assert not await store.contains_session(SignalAddress("15552223333", 0))


async def test_pn_session_moves_to_the_lid_when_the_lid_appears() -> None:
    client, log, _sent, bob = await talking()
    await feed(client, await bob.dm(text("as pn")))
    assert await client.signal_store.contains_session(SignalAddress("15552223333", 0))
    await feed(client, await bob.dm(text("now with lid"), sender_lid=BOB_LID))
    assert texts(log) == ["as pn", "now with lid"]
    assert await client.signal_store.contains_session(SignalAddress("80000000000002_1", 0))


async def test_redelivery_and_resend_are_reported_once() -> None:
    client, log, sent, bob = await talking()
    node = await bob.dm(text("once"))
    await feed(client, node)
    await feed(client, node)  # the same ciphertext again: a replay to the Signal layer
    resent = await bob.dm(text("once"), msg_id=node.attr_str("id"))  # re-encrypted, same id
    await feed(client, resent)
    assert texts(log) == ["once"]
    assert not log.of(UndecryptableMessage)
    # Each delivery is still answered, so the server stops redelivering.
    assert [n.attrs["id"] for n in sent if n.tag == "receipt"] == [node.attrs["id"]] * 3
    assert all(n.attrs.get("type") != "retry" for n in sent)


async def test_undecryptable_gets_retry_receipts_with_keys_from_the_second() -> None:
    client, log, sent, bob = await talking()
    await feed(client, await bob.dm(text("establish")))
    carol = Peer(CAROL)
    await carol.start(await client_bundle(client, pre_key_id=2))
    await feed(client, await carol.dm(text("carol's first")))
    carol_address = SignalAddress("15554445555", 2)
    reply = await SessionCipher(client.signal_store, carol_address).encrypt(b"reply")
    await SessionCipher(carol.store, carol.target_address).decrypt(reply.type, reply.serialized)
    # We lose Carol's session (say, a restored backup): her next "msg" finds none.
    await client.signal_store.delete_session(carol_address)
    node = await carol.dm(text("lost"))
    assert node.children[0].attrs["type"] == "msg"
    await feed(client, node)
    retry = sent[-2]
    assert retry.tag == "receipt" and retry.attrs["type"] == "retry"
    assert retry.attrs["to"] == CAROL and retry.attrs["id"] == node.attrs["id"]
    retry_child = retry.get_child_by_tag("retry")
    assert retry_child.attrs == {
        "count": "1",
        "id": node.attrs["id"],
        "v": "1",
        "t": node.attrs["t"],
    }
    assert retry.get_child_by_tag("registration").content_bytes() == (
        client.device.registration_id.to_bytes(4, "big")
    )
    assert retry.get_optional_child_by_tag("keys") is None
    assert sent[-1].tag == "ack" and "error" not in sent[-1].attrs
    undecryptable = log.of(UndecryptableMessage)[0]
    assert undecryptable.info.id == node.attrs["id"] and "NoSessionError" in undecryptable.error

    next_pre_key = client.device.next_pre_key_id
    await feed(client, node)
    second = sent[-2]
    assert second.get_child_by_tag("retry").attrs["count"] == "2"
    keys = second.get_child_by_tag("keys")
    assert [c.tag for c in keys.children] == [
        "type",
        "identity",
        "key",
        "skey",
        "device-identity",
    ]
    assert keys.get_child_by_tag("identity").content_bytes() == client.device.identity_key.public
    key_id = int.from_bytes(keys.get_child_by_tag("key", "id").content_bytes(), "big")
    assert key_id == next_pre_key and client.device.next_pre_key_id == next_pre_key + 1
    stored = await client.signal_store.load_pre_key(key_id)
    assert stored is not None
    assert keys.get_child_by_tag("key", "value").content_bytes() == stored.key_pair.public
    assert keys.get_child_by_tag("device-identity").content_bytes() == client.device.account

    # Bob's conversation is untouched by Carol's failures.
    await feed(client, await bob.dm(text("still here")))
    assert texts(log) == ["establish", "carol's first", "still here"]


async def test_at_most_five_retry_receipts_per_message() -> None:
    client, log, sent, _bob = await talking()
    node = stanza(CAROL, [enc("msg", b"\x33garbage-that-is-no-signal-message")])
    for _ in range(7):
        await feed(client, node)
    retries = [n for n in sent if n.attrs.get("type") == "retry"]
    assert [r.get_child_by_tag("retry").attrs["count"] for r in retries] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert len(log.of(UndecryptableMessage)) == 7
    assert len([n for n in sent if n.tag == "ack"]) == 7


async def test_resent_message_count_restores_the_retry_count() -> None:
    client, _log, sent, _bob = await talking()
    node = stanza(CAROL, [enc("msg", b"\x33junk", count="2")])
    await feed(client, node)
    assert sent[-2].get_child_by_tag("retry").attrs["count"] == "3"
    assert sent[-2].get_optional_child_by_tag("keys") is not None


@pytest.mark.parametrize(
    ("attrs", "drop"),
    [
        ({}, "from"),
        ({}, "id"),
        ({}, "t"),
        ({"t": "yesterday"}, None),
        ({"from": "not-a-jid"}, None),
        ({"from": GROUP}, None),  # a group message without participant
    ],
)
async def test_bad_attributes_are_nacked_and_the_next_message_arrives(
    attrs: dict[str, object], drop: str | None
) -> None:
    client, log, sent, bob = await talking()
    node = await bob.dm(text("bad"))
    node.attrs.update(attrs)  # type: ignore[arg-type]
    if drop is not None:
        del node.attrs[drop]
    await feed(client, node)
    assert sent[-1].tag == "ack" and sent[-1].attrs["error"] == "487"
    assert sent[-1].attrs["class"] == "message"
    assert not log.of(Message)
    # The pkmsg above was never decrypted; Bob's next message is still a pkmsg and works.
    await feed(client, await bob.dm(text("good")))
    assert texts(log) == ["good"]


async def test_corrupt_protobuf_is_nacked_491() -> None:
    client, log, sent, bob = await talking()
    await feed(client, await bob.dm(b"\xff\xff\xff\xff not a protobuf"))
    assert sent[-1].tag == "ack" and sent[-1].attrs["error"] == "491"
    await feed(client, await bob.dm(text("fine")))
    assert texts(log) == ["fine"]


@pytest.mark.parametrize("mangle", ["flip", "truncate", "empty", "no-content", "bad-padding"])
async def test_bad_ciphertext_gets_a_retry_and_the_next_message_arrives(mangle: str) -> None:
    client, log, sent, bob = await talking()
    await feed(client, await bob.dm(text("first")))
    node = await bob.dm(text("victim"))
    encrypted = node.children[0]
    body = encrypted.content_bytes()
    if mangle == "flip":
        encrypted.content = body[:-12] + bytes([body[-12] ^ 1]) + body[-11:]
    elif mangle == "truncate":
        encrypted.content = body[: len(body) // 2]
    elif mangle == "empty":
        encrypted.content = b""
    elif mangle == "no-content":
        encrypted.content = None
    else:
        type_, raw = await bob.encrypt(b"unpadded\x00", pad=False)
        node = stanza(BOB, [enc(type_, raw)])
    await feed(client, node)
    assert any(n.attrs.get("type") == "retry" for n in sent)
    assert log.of(UndecryptableMessage)[0].info.id == node.attrs["id"]
    await feed(client, await bob.dm(text("next")))
    assert texts(log) == ["first", "next"]


async def test_no_enc_is_nacked_and_unavailable_is_reported() -> None:
    client, log, sent, _bob = await talking()
    await feed(client, stanza(BOB, []))
    assert sent[-1].attrs["error"] == "488"
    await feed(client, stanza(BOB, [Node("unavailable", {"type": "view_once"})]))
    event = log.of(UndecryptableMessage)[0]
    assert event.is_unavailable and event.unavailable_type == "view_once"
    assert sent[-1].tag == "ack" and "error" not in sent[-1].attrs


async def test_new_identity_in_pkmsg_is_trusted_and_replaces_the_session() -> None:
    client, log, _sent, bob = await talking()
    await feed(client, await bob.dm(text("old phone")))
    reinstalled = Peer(BOB)
    await reinstalled.start(await client_bundle(client, pre_key_id=2))
    await feed(client, await reinstalled.dm(text("new phone")))
    assert texts(log) == ["old phone", "new phone"]
    change = log.of(IdentityChanged)[0]
    assert change.jid == BOB and change.timestamp is not None
    identity = await client.signal_store.get_identity(SignalAddress("15552223333", 0))
    assert identity == reinstalled.store.identity_key_pair.public
    # The old device's session is gone: its messages no longer decrypt.
    await feed(client, await bob.dm(text("stale")))
    assert texts(log) == ["old phone", "new phone"]


async def test_group_skmsg_after_skdm() -> None:
    client, log, sent, carol = await talking(CAROL)
    skdm_type, skdm = await carol.encrypt(await carol.skdm(GROUP))
    content = await carol.group_enc(GROUP, text("hi group"))
    node = stanza(
        GROUP,
        [enc(skdm_type, skdm), content],
        participant=CAROL,
        addressing_mode="pn",
        participant_lid=JID("70000000000003", "lid"),
    )
    await feed(client, node)
    second = stanza(GROUP, [await carol.group_enc(GROUP, text("second"))], participant=CAROL)
    await feed(client, second)
    assert texts(log) == ["hi group", "second"]  # one event per message, not per <enc>
    info = log.of(Message)[0].info
    assert (info.chat, info.sender, info.is_group) == (GROUP, CAROL, True)
    assert info.sender_alt == JID("70000000000003", "lid", 2)
    receipt = next(n for n in sent if n.tag == "receipt")
    assert receipt.attrs["participant"] == CAROL and receipt.attrs["to"] == GROUP


async def test_group_skmsg_without_sender_key_asks_with_keys() -> None:
    client, log, sent, carol = await talking(CAROL)
    await carol.skdm(GROUP)  # Carol has a key; we never got it
    node = stanza(GROUP, [await carol.group_enc(GROUP, text("?"))], participant=CAROL)
    await feed(client, node)
    retry = next(n for n in sent if n.attrs.get("type") == "retry")
    assert retry.attrs["participant"] == CAROL
    assert retry.get_optional_child_by_tag("keys") is not None  # forced: no sender key
    assert log.of(UndecryptableMessage)[0].is_unavailable


async def test_device_sent_message_is_unwrapped() -> None:
    client, log, sent, phone = await talking(JID(OWN.user, OWN.server, 0))
    dsm = wa_e2e_pb2.Message(
        deviceSentMessage=wa_e2e_pb2.DeviceSentMessage(
            destinationJID=str(BOB), message=text("sent from my phone")
        )
    )
    await feed(client, await phone.dm(dsm))
    with_recipient = wa_e2e_pb2.Message(
        deviceSentMessage=wa_e2e_pb2.DeviceSentMessage(destinationJID=str(BOB), message=text("2"))
    )
    await feed(client, await phone.dm(with_recipient, recipient=BOB))
    assert texts(log) == ["sent from my phone", "2"]
    for event in log.of(Message):
        assert event.info.chat == BOB and event.info.is_from_me
        assert event.info.device_sent_destination == BOB
        assert event.raw.HasField("deviceSentMessage")
    receipts = [n for n in sent if n.tag == "receipt"]
    assert [r.attrs["type"] for r in receipts] == ["sender", "sender"]
    assert receipts[1].attrs["recipient"] == BOB


async def test_wrappers_are_removed_and_flags_set() -> None:
    client, log, _sent, bob = await talking()
    inner = text("secret")
    wrapped = wa_e2e_pb2.Message(
        ephemeralMessage=wa_e2e_pb2.FutureProofMessage(
            message=wa_e2e_pb2.Message(
                viewOnceMessage=wa_e2e_pb2.FutureProofMessage(message=inner)
            )
        ),
        messageContextInfo=wa_e2e_pb2.MessageContextInfo(messageSecret=b"s" * 32),
    )
    await feed(client, await bob.dm(wrapped, edit="1"))
    event = log.of(Message)[0]
    assert event.message.conversation == "secret"
    assert event.is_ephemeral and event.is_view_once and not event.is_edit
    assert event.message.messageContextInfo.messageSecret == b"s" * 32
    assert event.info.edit == "1"


async def test_offline_queue_is_processed_in_order() -> None:
    client, log, sent, bob = await talking()
    nodes = [await bob.dm(text(f"m{i}"), offline="1") for i in range(30)]
    for node in nodes:
        await feed(client, node)
    assert texts(log) == [f"m{i}" for i in range(30)]
    assert all(e.info.offline for e in log.of(Message))
    assert [n.attrs["id"] for n in sent if n.tag == "receipt"] == [n.attrs["id"] for n in nodes]


async def test_message_id_helper_is_unique() -> None:
    assert message_id() != message_id()
    assert OWN_LID.is_lid and pad_message(b"x", 1) == b"x\x01"


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        # A DM from a LID sender names its phone number.
        (
            {
                "from": JID("80000000000002", "lid", 1),
                "sender_pn": JID("15552223333", "s.whatsapp.net"),
            },
            {"sender_alt": JID("15552223333", "s.whatsapp.net", 1), "chat": BOB_LID},
        ),
        # A LID-addressed group names the participant's phone number.
        (
            {
                "from": GROUP,
                "participant": JID("80000000000002", "lid", 3),
                "addressing_mode": "lid",
                "participant_pn": JID("15552223333", "s.whatsapp.net"),
                "participant_lid": JID("1", "lid"),  # ignored in lid mode
            },
            {"sender_alt": JID("15552223333", "s.whatsapp.net", 3), "addressing_mode": "lid"},
        ),
        # Our own DM to a LID chat names the chat's phone number.
        (
            {
                "from": JID(OWN_LID.user, "lid", 0),
                "recipient": BOB_LID,
                "peer_recipient_pn": JID("15552223333", "s.whatsapp.net"),
                "category": "peer",
                "offline": "0",
            },
            {
                "recipient_alt": JID("15552223333", "s.whatsapp.net"),
                "chat": BOB_LID,
                "is_from_me": True,
                "category": "peer",
                "offline": True,
            },
        ),
        # A status update: a broadcast, read as a group.
        (
            {"from": JID("status", "broadcast"), "participant": BOB},
            {"is_group": True, "is_status": True, "is_broadcast": True},
        ),
    ],
)
def test_message_info_alternate_identities(
    attrs: dict[str, object], expected: dict[str, object]
) -> None:
    node = stanza(JID("0", "s.whatsapp.net"), [], None, **attrs)
    info = parse_message_info(node, OWN, OWN_LID)
    for name, value in expected.items():
        assert getattr(info, name) == value, name


async def test_newsletter_plaintext_messages() -> None:
    client, log, sent = await paired_client()
    channel = JID("120363000000000055", "newsletter")
    body = text("channel post").SerializeToString()
    await feed(client, stanza(channel, [Node("plaintext", {}, body)]))
    event = log.of(Message)[0]
    assert event.message.conversation == "channel post" and event.info.chat == channel
    assert sent[-1].tag == "ack" and "error" not in sent[-1].attrs
    await feed(client, stanza(channel, [Node("plaintext", {}, b"\xff\xff")]))
    assert sent[-1].attrs["error"] == "491" and len(log.of(Message)) == 1


async def test_a_failing_store_is_nacked_and_the_connection_goes_on() -> None:
    client, log, sent, bob = await talking()
    store = client.signal_store
    load_session = store.load_session

    async def broken(address: SignalAddress) -> bytes | None:
        raise OSError("database is gone")

    store.load_session = broken  # type: ignore[method-assign]
    node = await bob.dm(text("lost to the outage"))
    await feed(client, node)
    assert sent[-1].tag == "ack" and sent[-1].attrs["error"] == "500"
    store.load_session = load_session  # type: ignore[method-assign]
    await feed(client, await bob.dm(text("back")))
    assert texts(log) == ["back"]


def bundle_from_retry(receipt: Node) -> PreKeyBundle:
    """What a sender builds a new session from: the ``<keys>`` of our retry receipt."""
    keys = receipt.get_child_by_tag("keys")
    key, skey = keys.get_child_by_tag("key"), keys.get_child_by_tag("skey")
    return PreKeyBundle(
        registration_id=int.from_bytes(
            receipt.get_child_by_tag("registration").content_bytes(), "big"
        ),
        device_id=OWN.device,
        identity_key=keys.get_child_by_tag("identity").content_bytes(),
        signed_pre_key_id=int.from_bytes(skey.get_child_by_tag("id").content_bytes(), "big"),
        signed_pre_key=skey.get_child_by_tag("value").content_bytes(),
        signed_pre_key_signature=skey.get_child_by_tag("signature").content_bytes(),
        pre_key_id=int.from_bytes(key.get_child_by_tag("id").content_bytes(), "big"),
        pre_key=key.get_child_by_tag("value").content_bytes(),
    )


async def test_sender_recovers_with_the_keys_of_our_retry_receipt() -> None:
    """The session broke on our side; the sender rebuilds it from our retry receipt's keys and
    resends with ``count``: the message arrives once, marked as a retry."""
    client, log, sent, bob = await talking()
    await feed(client, await bob.dm(text("before")))
    reply = await SessionCipher(client.signal_store, bob.address_on_client).encrypt(b"r")
    await SessionCipher(bob.store, bob.target_address).decrypt(reply.type, reply.serialized)
    await client.signal_store.delete_session(bob.address_on_client)

    lost = await bob.dm(text("lost"))
    await feed(client, lost)  # retry 1: no keys
    await feed(client, lost)  # the server redelivers: retry 2, with keys
    retry = [n for n in sent if n.attrs.get("type") == "retry"][-1]
    assert retry.get_child_by_tag("retry").attrs["count"] == "2"
    await bob.start(bundle_from_retry(retry))
    msg_id = lost.attr_str("id")
    resent = await bob.dm(text("lost"), msg_id=msg_id)
    resent.children[0].attrs["count"] = "2"
    await feed(client, resent)
    assert texts(log) == ["before", "lost"]
    assert log.of(Message)[1].retry_count == 2
    assert sent[-1].tag == "receipt" and sent[-1].attrs.get("type") != "retry"


async def test_peer_messages_get_peer_receipts() -> None:
    client, _log, sent, phone = await talking(JID(OWN.user, OWN.server, 0))
    protocol = wa_e2e_pb2.Message(
        protocolMessage=wa_e2e_pb2.ProtocolMessage(type=wa_e2e_pb2.ProtocolMessage.REVOKE)
    )
    await feed(client, await phone.dm(protocol, category="peer", push_priority="high"))
    assert sent[-1].tag == "receipt" and sent[-1].attrs["type"] == "peer_msg"
    await feed(client, stanza(phone.jid, [enc("msg", b"\x33junk")], category="peer"))
    retry = sent[-2]
    assert retry.attrs["type"] == "retry" and retry.attrs["category"] == "peer"


async def test_retry_pre_key_waits_for_an_upload_in_flight() -> None:
    """A retry's fresh pre-key never reuses an id of an upload still waiting for the server."""
    client, _log, sent, _bob = await talking()
    uploading, answered = asyncio.Event(), asyncio.Event()

    async def slow_iq(*args: object, **kwargs: object) -> Node:
        uploading.set()
        await answered.wait()
        return Node("iq", {"type": "result"})

    client.send_iq = slow_iq  # type: ignore[method-assign]
    first_id = client.device.next_pre_key_id
    upload = asyncio.create_task(client._pre_keys.ensure(0))
    await uploading.wait()  # the batch is generated and stored; the server has not answered
    node = stanza(CAROL, [enc("msg", b"\x33junk", count="1")])  # a second retry: keys
    # Scheduled before the upload resumes: without the lock it would take the batch's first id.
    retry = asyncio.create_task(feed(client, node))
    answered.set()
    await asyncio.gather(upload, retry)
    keys = next(n for n in sent if n.attrs.get("type") == "retry").get_child_by_tag("keys")
    key_id = int.from_bytes(keys.get_child_by_tag("key", "id").content_bytes(), "big")
    assert key_id == first_id + 50  # after the 50 uploaded
    assert client.device.next_pre_key_id == first_id + 51
