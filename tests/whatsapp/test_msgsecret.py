"""Message-secret crypto (poll votes), received votes through the handler, read receipts we
send, and the Signal locks."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mautrix_whatsapp.whatsapp import msgsecret
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.events import Message
from mautrix_whatsapp.whatsapp.locks import KeyedLocks, SignalLocks
from mautrix_whatsapp.whatsapp.msgsecret import MessageSecretError
from mautrix_whatsapp.whatsapp.proto import wa_common_pb2, wa_e2e_pb2
from mautrix_whatsapp.whatsapp.receipt_send import build_read_receipt
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress
from mautrix_whatsapp.whatsapp.store import MemoryMessagingStore
from tests.processes import run_node_json

from .message_peer import OWN, Peer, client_bundle, paired_client

CREATOR = JID("15550000001", "s.whatsapp.net", 3)
VOTER = JID("15550000002", "s.whatsapp.net", 7)
SECRET = bytes(range(32))
NAMES = ["Yes", "No", "Maybe"]
OPTIONS = [hashlib.sha256(name.encode()).digest() for name in NAMES]


def encrypt(
    *indexes: int, voter: JID = VOTER, poll_id: str = "POLL1", secret: bytes = SECRET
) -> wa_e2e_pb2.PollEncValue:
    return msgsecret.encrypt_poll_vote(
        secret,
        poll_id=poll_id,
        poll_sender=CREATOR,
        voter=voter,
        selected=[NAMES[i] for i in indexes],
    )


def decrypt(
    value: wa_e2e_pb2.PollEncValue,
    voter: JID = VOTER,
    poll_id: str = "POLL1",
    creator: JID = CREATOR,
    secret: bytes = SECRET,
) -> wa_e2e_pb2.PollVoteMessage:
    return msgsecret.decrypt_poll_vote(
        secret, poll_id=poll_id, poll_sender=creator, voter=voter, vote=value
    )


def test_poll_vote_round_trip_and_binding() -> None:
    value = encrypt(0, 2)
    assert len(value.encIV) == 12
    decrypted = decrypt(value)
    assert list(decrypted.selectedOptions) == [OPTIONS[0], OPTIONS[2]]
    # Devices do not matter: the key binds users.
    assert decrypt(value, VOTER.to_non_ad(), creator=CREATOR.to_non_ad()) == decrypted
    other = JID("15550000009", "s.whatsapp.net")
    for kwargs in [
        {"voter": other},
        {"poll_id": "POLL2"},
        {"creator": other},
        {"secret": bytes(32)},
    ]:
        with pytest.raises(MessageSecretError):
            decrypt(value, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(MessageSecretError):
        decrypt(wa_e2e_pb2.PollEncValue(encPayload=b"x", encIV=b"1"))


@pytest.mark.node
def test_baileys_decrypts_our_votes(node_harness_dir: Path) -> None:
    """Baileys' decryptPollVote (its own HKDF and GCM) reads what we encrypt."""
    cases = []
    for i in range(4):
        secret = os.urandom(32)
        chosen = list(range(i % 3 + 1))
        cases.append((chosen, secret, encrypt(*chosen, poll_id=f"3EB0{i}", secret=secret)))
    answer = run_node_json(
        node_harness_dir,
        "poll_vote.mjs",
        {
            "votes": [
                {
                    "encPayload": value.encPayload.hex(),
                    "encIv": value.encIV.hex(),
                    "pollCreatorJid": str(CREATOR.to_non_ad()),
                    "pollMsgId": f"3EB0{i}",
                    "pollEncKey": secret.hex(),
                    "voterJid": str(VOTER.to_non_ad()),
                }
                for i, (_chosen, secret, value) in enumerate(cases)
            ]
        },
        timeout=30,
    )
    for (chosen, _secret, _value), result in zip(cases, answer["votes"], strict=True):
        assert [bytes.fromhex(h) for h in result["selectedOptions"]] == [
            OPTIONS[i] for i in chosen
        ]


async def test_memory_secret_store_keeps_the_first_secret() -> None:
    secrets = msgsecret.MessageSecrets(MemoryMessagingStore())
    chat = JID("120363000000000009", "g.us")
    with pytest.raises(MessageSecretError):
        await secrets.get(chat, CREATOR, "P")
    await secrets.put(chat, CREATOR, "P", SECRET)
    await secrets.put(chat, CREATOR.to_non_ad(), "P", b"later" * 7)  # redelivery: first wins
    assert await secrets.get(chat, CREATOR.to_non_ad(), "P") == SECRET


async def test_received_poll_secret_is_stored_and_votes_decrypt() -> None:
    client, log, _sent = await paired_client()
    bob = Peer(CREATOR)
    await bob.start(await client_bundle(client))
    poll = wa_e2e_pb2.Message(
        pollCreationMessage=wa_e2e_pb2.PollCreationMessage(name="Lunch?"),
        messageContextInfo=wa_e2e_pb2.MessageContextInfo(messageSecret=SECRET),
    )
    poll_node = await bob.dm(poll)
    await client._handle_node(poll_node)
    poll_id = poll_node.attr_str("id")
    chat = CREATOR.to_non_ad()
    assert await client.secrets.get(chat, CREATOR, poll_id) == SECRET
    # Bob votes on his own poll (from his point of view, fromMe).
    update = wa_e2e_pb2.Message(
        pollUpdateMessage=wa_e2e_pb2.PollUpdateMessage(
            pollCreationMessageKey=wa_common_pb2.MessageKey(
                remoteJID=str(OWN.to_non_ad()), fromMe=True, ID=poll_id
            ),
            vote=msgsecret.encrypt_poll_vote(
                SECRET, poll_id=poll_id, poll_sender=CREATOR, voter=CREATOR, selected=["No"]
            ),
        )
    )
    await client._handle_node(await bob.dm(update))
    event = log.of(Message)[1]
    decrypted = await client.messages.decrypt_poll_vote(event)
    assert list(decrypted.selectedOptions) == [OPTIONS[1]]
    # Without a stored secret the vote cannot be read.
    unknown = wa_e2e_pb2.Message(
        pollUpdateMessage=wa_e2e_pb2.PollUpdateMessage(
            pollCreationMessageKey=wa_common_pb2.MessageKey(fromMe=True, ID="NOPE"),
            vote=update.pollUpdateMessage.vote,
        )
    )
    await client._handle_node(await bob.dm(unknown))
    with pytest.raises(MessageSecretError):
        await client.messages.decrypt_poll_vote(log.of(Message)[2])
    with pytest.raises(MessageSecretError):
        await client.messages.decrypt_poll_vote(log.of(Message)[0])


async def test_mark_read_and_played_receipts() -> None:
    client, _log, sent = await paired_client()
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    dm = JID("15550000001", "s.whatsapp.net")
    await client.mark_read(dm, CREATOR, ["A", "B", "C"], at)
    node = sent[-1]
    assert node.tag == "receipt"
    assert node.attrs == {"id": "A", "type": "read", "to": dm, "t": str(int(at.timestamp()))}
    items = node.get_child_by_tag("list").children
    assert [(i.tag, i.attrs["id"]) for i in items] == [("item", "B"), ("item", "C")]

    group = JID("120363000000000009", "g.us")
    await client.mark_read(group, CREATOR, ["X"], at, "played")
    node = sent[-1]
    assert node.attrs["participant"] == CREATOR.to_non_ad() and node.attrs["type"] == "played"
    assert node.content is None

    client.send_read_receipts = False
    await client.mark_read(dm, CREATOR, ["P"], at)
    assert sent[-1].attrs["type"] == "read-self"
    channel = JID("120363000000000055", "newsletter")
    assert build_read_receipt(channel, None, ["N"], at).attrs["type"] == "read-self"
    self_read = build_read_receipt(dm, None, ["Y"], at, "read-self")
    assert self_read.attrs["type"] == "read-self" and "participant" not in self_read.attrs
    with pytest.raises(ValueError):
        await client.mark_read(dm, None, [], at)
    with pytest.raises(ValueError):
        build_read_receipt(dm, None, ["Z"], at, "delivery")


async def test_keyed_locks_serialize_and_are_dropped() -> None:
    locks = SignalLocks()
    address = SignalAddress("123", 1)
    order: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with locks.session(address):
            order.append("first in")
            first_in.set()
            await release.wait()
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with locks.session(address):
            order.append("second in")

    async def other() -> None:
        await first_in.wait()
        async with locks.session(SignalAddress("456", 1)), locks.group("g"):
            order.append("other")

    tasks = [asyncio.create_task(c()) for c in (first, second, other)]
    await first_in.wait()
    await tasks[2]
    assert order == ["first in", "other"]
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["first in", "other", "first out", "second in"]
    assert len(locks.sessions) == 0 and len(locks.groups) == 0

    keyed = KeyedLocks()
    with pytest.raises(RuntimeError):
        async with keyed.hold("k"):
            raise RuntimeError("released on error")
    assert len(keyed) == 0
