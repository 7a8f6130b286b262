"""Retries between our client and a real Baileys 7.0.0-rc14 through the simulator: a message
whose session was broken on the receiving side is recovered by a retry receipt, whichever side
sends it, and reported once.

One simulator and one Baileys peer (Alice) for the module; our client is linked to its own
account after her. Each test breaks the session itself, so the order of the tests does not
matter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp import message_builders as mb
from mautrix_whatsapp.whatsapp.binary.jid import JID
from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import Message, UndecryptableMessage
from mautrix_whatsapp.whatsapp.store import MemorySignalStore
from tests.baileys_fixtures import alice, linked_client, sim
from tests.baileys_peer import BaileysPeer, text_of, user_of
from tests.simulator_fixture import SimulatorInfo
from tests.whatsapp.test_client_helpers import EventLog

__all__ = ["alice", "sim"]  # fixtures used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(90)]

OURS = "15550001900"
PN = "s.whatsapp.net"


class Ours:
    """Our linked client and everything it reported."""

    def __init__(self, client: Client, log: EventLog) -> None:
        self.client = client
        self.log = log

    async def message(self, message_id: str) -> Message:
        """The Message event of ``message_id``, once it is out (others may come between)."""
        count = 1
        while True:
            event = await self.log.wait_for(Message, count=count)
            if event.info.id == message_id:
                return event
            count += 1

    async def text(self, message_id: str) -> str:
        """The text of message ``message_id`` (Baileys sends texts as extended texts)."""
        message = (await self.message(message_id)).message
        return message.conversation or message.extendedTextMessage.text

    def messages(self, message_id: str) -> list[Message]:
        return [e for e in self.log.of(Message) if e.info.id == message_id]

    def undecryptable(self, message_id: str) -> list[UndecryptableMessage]:
        return [e for e in self.log.of(UndecryptableMessage) if e.info.id == message_id]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ours(sim: SimulatorInfo, alice: BaileysPeer) -> AsyncIterator[Ours]:
    """Our client, linked to +15550001900 after Alice (a scan links the latest default)."""
    async for client, log in linked_client(sim, OURS, "Ours"):
        yield Ours(client, log)


async def _alice_users(client: Client, alice: BaileysPeer) -> list[str]:
    """Alice's Signal address names in our store: her phone number and, if known, her LID."""
    names = [user_of(alice.jid)]
    if alice.lid is not None:
        names.append(f"{user_of(alice.lid)}_1")
    lid = await client.lids.get_lid(JID(user_of(alice.jid), PN))
    if lid is not None:
        names.append(f"{lid.user}_1")
    return names


async def test_baileys_cannot_decrypt_and_our_resend_recovers(
    ours: Ours, alice: BaileysPeer
) -> None:
    client = ours.client
    chat = JID(user_of(alice.jid), PN)
    first = await client.send_message(chat, mb.text("a session for us both"))
    got = await alice.wait_message(lambda m: m["key"]["id"] == first.id)
    assert text_of(got) == "a session for us both"

    assert client.device.jid is not None and client.device.lid is not None
    dropped = await alice.drop_sessions(OURS, client.device.lid.user)
    assert dropped, "Alice had no session with us to drop"

    second = await client.send_message(chat, mb.text("after Alice lost our session"))
    # Baileys reports the undecryptable copy first (a stub without content, unless its event
    # buffer merges the two), then the resent message once it decrypts.
    got = await alice.wait_message(
        lambda m: m["key"]["id"] == second.id and text_of(m) is not None, timeout=20
    )
    assert text_of(got) == "after Alice lost our session"
    # It took a retry receipt from her: our resender answered it.
    assert [n for (_, message_id), n in client.resender.counts.items() if message_id == second.id]


async def test_we_cannot_decrypt_and_baileys_resends(ours: Ours, alice: BaileysPeer) -> None:
    client = ours.client
    assert client.device.jid is not None
    us = client.device.jid.to_non_ad()
    first = await alice.send_text(str(us), "a session from Alice")
    assert await ours.text(first["id"]) == "a session from Alice"

    for name in await _alice_users(client, alice):
        await client.signal_store.delete_all_sessions(name)

    second = await alice.send_text(str(us), "after we lost Alice's session")
    assert await ours.text(second["id"]) == "after we lost Alice's session"
    # It failed first (that is what sent the retry receipt), and is reported exactly once.
    assert ours.undecryptable(second["id"]), "the message decrypted without a retry"
    third = await alice.send_text(str(us), "and the session works again")
    assert await ours.text(third["id"]) == "and the session works again"
    assert len(ours.messages(second["id"])) == 1


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def group(ours: Ours, alice: BaileysPeer) -> str:
    """A group of Alice's with us in it, in which each side has sent once (so each side holds
    the other's sender key)."""
    assert ours.client.device.jid is not None
    created = await alice.group_create("Retries", [str(ours.client.device.jid.to_non_ad())])
    jid = str(created["id"])
    hello = await alice.send_text(jid, "hello group")
    assert await ours.text(hello["id"]) == "hello group"
    answer = await ours.client.send_message(JID.parse(jid), mb.text("hello Alice"))
    got = await alice.wait_message(lambda m: m["key"]["id"] == answer.id)
    assert text_of(got) == "hello Alice"
    return jid


async def test_baileys_lost_our_sender_key_and_our_group_resend_recovers(
    ours: Ours, alice: BaileysPeer, group: str
) -> None:
    client = ours.client
    assert client.device.lid is not None
    dropped = await alice.drop_sender_keys(group, OURS, client.device.lid.user)
    assert dropped, "Alice had no sender key of ours to drop"

    sent = await client.send_message(JID.parse(group), mb.text("after Alice lost our key"))
    got = await alice.wait_message(
        lambda m: m["key"]["id"] == sent.id and text_of(m) is not None, timeout=20
    )
    assert text_of(got) == "after Alice lost our key"
    assert [n for (_, message_id), n in client.resender.counts.items() if message_id == sent.id]


async def test_we_lost_baileys_sender_key_and_baileys_resends(
    ours: Ours, alice: BaileysPeer, group: str
) -> None:
    client = ours.client
    store = client.signal_store
    assert isinstance(store, MemorySignalStore)
    names = set(await _alice_users(client, alice))
    lost = [k for k in store.sender_keys if k[0] == group and k[1].name in names]
    assert lost, "we had no sender key of Alice's to drop"
    for k in lost:
        del store.sender_keys[k]

    sent = (await alice.send_text(group, "after we lost Alice's key"))["id"]
    assert await ours.text(sent) == "after we lost Alice's key"
    assert ours.undecryptable(sent), "the message decrypted without a retry"
    again = await alice.send_text(group, "and her key works again")
    assert await ours.text(again["id"]) == "and her key works again"
    assert len(ours.messages(sent)) == 1
