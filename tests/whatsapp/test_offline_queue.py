"""The offline queue at scale, with a real Baileys 7.0.0-rc14 as the sender: 200 messages sent
to our client while it is disconnected all arrive after it reconnects, in order, once, flagged
offline, each receipted back to Baileys, and before anything sent live afterwards, even while
the queue is still arriving."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.events import (
    Message,
    OfflineSyncCompleted,
    UndecryptableMessage,
)
from tests.baileys_fixtures import alice, linked_client, sim
from tests.baileys_peer import BaileysPeer, reached_status
from tests.simulator_fixture import SimulatorInfo
from tests.whatsapp.test_client_helpers import EventLog
from tests.whatsapp.test_message_recv_simulator import _message

__all__ = ["alice", "sim"]  # fixtures used by name

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

OURS = "15550001901"
QUEUED = 200
DELIVERED = 3  # proto.WebMessageInfo.Status.DELIVERY_ACK


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ours(sim: SimulatorInfo, alice: BaileysPeer) -> AsyncIterator[tuple[Client, EventLog]]:
    """Our client, linked to its own account after Alice."""
    async for linked in linked_client(sim, OURS, "Ours"):
        yield linked


def _text(event: Message) -> str:
    return event.message.conversation or event.message.extendedTextMessage.text


async def test_two_hundred_queued_messages_arrive_in_order_once(
    ours: tuple[Client, EventLog], alice: BaileysPeer
) -> None:
    client, log = ours
    assert client.device.jid is not None
    us = str(client.device.jid.to_non_ad())
    first = (await alice.send_text(us, "while online"))["id"]
    await _message(log, first)

    syncs = len(log.of(OfflineSyncCompleted))
    await client.disconnect()
    queued = [(await alice.send_text(us, f"queued {i}"))["id"] for i in range(QUEUED)]
    # Alice writes again as soon as the first queued message is handled, while the rest of the
    # queue is still being delivered and handled: hers must come after all of it.
    draining: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_event(event: object) -> None:
        if isinstance(event, Message) and event.info.offline and not draining.done():
            draining.set_result(None)

    client.add_event_handler(on_event)
    await client.connect()
    await asyncio.wait_for(draining, 30)
    live = (await alice.send_text(us, "live again"))["id"]
    await _message(log, live)
    done = log.of(OfflineSyncCompleted)[syncs]
    assert done.count >= QUEUED

    events = [e for e in log.of(Message) if alice.is_me(str(e.info.sender))]
    assert [e.info.id for e in events] == [first, *queued, live]
    assert [_text(e) for e in events[1:-1]] == [f"queued {i}" for i in range(QUEUED)]
    assert all(e.info.offline for e in events[1:-1]) and not events[-1].info.offline
    assert not log.of(UndecryptableMessage)
    # Every queued message was receipted: Baileys saw each one delivered.
    pending = set(queued)
    while pending:
        update = await alice.wait_for(lambda e: reached_status(e, pending, DELIVERED), 30)
        pending.discard(update["key"]["id"])
