"""The decrypted-event buffer and held-back receipts, over the real simulator connection.

A message whose handler fails (or whose process dies in the handler) gets no delivery receipt,
so the server redelivers it; its ciphertext no longer decrypts (the ratchet moved on and was
saved), and only the buffer's plaintext makes the redelivery reach the handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from mautrix_whatsapp.whatsapp.client import Client
from mautrix_whatsapp.whatsapp.event_buffer import MemoryEventBuffer, ciphertext_hash
from mautrix_whatsapp.whatsapp.events import Connected, Message, UndecryptableMessage
from mautrix_whatsapp.whatsapp.locks import SignalLocks
from mautrix_whatsapp.whatsapp.store import MemoryDeviceStore
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import EventLog, admin, link_by_qr, make_client
from tests.whatsapp.test_message_recv_simulator import BOB, OURS, _bob_peer, _message, _post_raw

from .message_peer import text

pytestmark = pytest.mark.timeout(60)


async def _receipts_for(info: SimulatorInfo, message_id: str) -> int:
    """How many delivery receipts for ``message_id`` Bob's phone has got so far."""
    status, received = await admin(info, "GET", f"/accounts/{BOB}/received")
    assert status == 200, received
    return sum(
        r["ids"].count(message_id) for r in received["receipts"] if r["type"] in ("", "inactive")
    )


async def _wait_receipts(info: SimulatorInfo, message_id: str, n: int) -> None:
    async with asyncio.timeout(10):
        while await _receipts_for(info, message_id) < n:
            await asyncio.sleep(0.05)


class LockCheckingBuffer(MemoryEventBuffer):
    """Notes, for each decryption transaction, whether a Signal lock was held when it began:
    it must be (a sender holds the lock while it reads the store, so taking the database
    first would deadlock a single-connection pool)."""

    def __init__(self) -> None:
        super().__init__()
        self.locks: SignalLocks | None = None
        self.under_lock: list[bool] = []

    @contextlib.asynccontextmanager
    async def decryption_txn(self) -> AsyncIterator[None]:
        assert self.locks is not None
        self.under_lock.append(len(self.locks.sessions) + len(self.locks.groups) > 0)
        yield


async def _linked(info: SimulatorInfo) -> tuple[Client, MemoryDeviceStore, EventLog]:
    await admin(info, "POST", "/accounts", {"phone": OURS, "push_name": "Me", "default": True})
    status, bob = await admin(info, "POST", "/accounts", {"phone": BOB, "push_name": "Bob"})
    assert status == 200, bob
    buffer = LockCheckingBuffer()
    client, store, log = make_client(info, event_buffer=buffer)
    buffer.locks = client.locks
    await link_by_qr(info, client, log)
    return client, store, log


def _texts(log: EventLog, message_id: str) -> list[str]:
    return [e.message.conversation for e in log.of(Message) if e.info.id == message_id]


async def test_a_refused_message_is_not_receipted_and_comes_back_from_the_buffer(
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    client, _store, log = await _linked(simulator)
    refused: list[str] = []

    async def refuse_once(event: object) -> None:
        if isinstance(event, Message) and event.message.conversation == "keep me" and not refused:
            refused.append(event.info.id)
            raise RuntimeError("the bridge could not keep it")

    client.add_event_handler(refuse_once)
    try:
        bob = await _bob_peer(client)
        kept = await bob.dm(text("keep me"))
        marker = await bob.dm(text("marker 1"))
        kept_id = kept.attr_str("id")
        await _post_raw(simulator, client, [kept, marker])
        await _message(log, marker.attr_str("id"))
        await _wait_receipts(simulator, marker.attr_str("id"), 1)
        # Handled in order: the marker's receipt is out, the refused message has none.
        assert refused == [kept_id]
        assert await _receipts_for(simulator, kept_id) == 0
        enc = kept.get_child_by_tag("enc").content_bytes()
        buffered = await client.event_buffer.get(ciphertext_hash(enc))
        assert buffered is not None and buffered.plaintext is not None

        # The server redelivers the same ciphertext: it is reported again, from the buffer.
        second_marker = await bob.dm(text("marker 2"))
        await _post_raw(simulator, client, [kept, second_marker])
        await _message(log, second_marker.attr_str("id"))
        assert _texts(log, kept_id) == ["keep me", "keep me"]
        await _wait_receipts(simulator, kept_id, 1)
        buffered = await client.event_buffer.get(ciphertext_hash(enc))
        assert buffered is not None and buffered.plaintext is None  # handled: hash only

        # A third copy is known as handled: receipted again, not reported again.
        third_marker = await bob.dm(text("marker 3"))
        await _post_raw(simulator, client, [kept, third_marker])
        await _message(log, third_marker.attr_str("id"))
        await _wait_receipts(simulator, kept_id, 2)
        assert _texts(log, kept_id) == ["keep me", "keep me"]
        assert not log.of(UndecryptableMessage)
        buffer = client.event_buffer
        assert isinstance(buffer, LockCheckingBuffer)
        assert buffer.under_lock and all(buffer.under_lock)
    finally:
        await client.disconnect()


async def test_a_crash_between_decryption_and_handler_loses_nothing(
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    """The first process decrypts (the Signal state and the plaintext are saved) and dies in
    the handler; the next one, on the same stores, gets the server's redelivery at login and
    reports it."""
    client, store, log = await _linked(simulator)
    in_handler = asyncio.Event()

    async def die_here(event: object) -> None:
        if isinstance(event, Message) and event.message.conversation == "mid-crash":
            in_handler.set()
            await asyncio.Event().wait()  # the process dies here (the task is cancelled)

    client.add_event_handler(die_here)
    bob = await _bob_peer(client)
    stanza = await bob.dm(text("mid-crash"))
    message_id = stanza.attr_str("id")
    await _post_raw(simulator, client, [stanza])
    async with asyncio.timeout(10):
        await in_handler.wait()
    await client.disconnect()  # cancels the stuck handler: no receipt was sent
    assert await _receipts_for(simulator, message_id) == 0

    buffer = client.event_buffer
    assert isinstance(buffer, MemoryEventBuffer)
    restarted, _, new_log = make_client(
        simulator,
        device=client.device,
        store=store,
        signal_store=client.signal_store,
        messaging_store=client.messaging_store,
        event_buffer=buffer,
    )
    await restarted.connect()
    try:
        await new_log.wait_for(Connected)
        # The simulator redelivers what was not answered (tests/simulator/redelivery.py).
        event = await _message(new_log, message_id)
        assert event.message.conversation == "mid-crash"
        assert event.info.sender.user == BOB
        await _wait_receipts(simulator, message_id, 1)
        assert not new_log.of(UndecryptableMessage)
        assert not log.of(UndecryptableMessage)
    finally:
        await restarted.disconnect()
