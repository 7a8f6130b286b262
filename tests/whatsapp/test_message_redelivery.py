"""A stanza the server delivers twice (as it does when our receipt was lost) is reported once
and answered twice, over the real simulator connection."""

from __future__ import annotations

import asyncio

import pytest

from mautrix_whatsapp.whatsapp.events import Message, UndecryptableMessage
from tests.simulator_fixture import SimulatorInfo, simulator  # noqa: F401
from tests.whatsapp.test_client_helpers import admin
from tests.whatsapp.test_message_recv_simulator import (
    BOB,
    _bob_peer,
    _linked,
    _message,
    _post_raw,
)

from .message_peer import text

pytestmark = pytest.mark.timeout(60)


async def _delivery_receipts(info: SimulatorInfo, phone: str, message_id: str, n: int) -> int:
    """How many delivery receipts for ``message_id`` ``phone`` got, once it has ``n`` (10 s)."""
    async with asyncio.timeout(10):
        while True:
            status, received = await admin(info, "GET", f"/accounts/{phone}/received")
            assert status == 200, received
            count: int = sum(
                r["ids"].count(message_id)
                for r in received["receipts"]
                if r["type"] in ("", "inactive")
            )
            if count >= n:
                return count
            await asyncio.sleep(0.05)


async def test_a_redelivered_stanza_is_reported_once_and_receipted_twice(
    simulator: SimulatorInfo,  # noqa: F811
) -> None:
    client, log = await _linked(simulator)
    try:
        bob = await _bob_peer(client)
        once = await bob.dm(text("only once"))
        after = await bob.dm(text("and the next one"))
        await _post_raw(simulator, client, [once, once, after])
        # Stanzas are handled in order: once the next message is out, both copies were handled.
        await _message(log, after.attr_str("id"))
        messages = [e for e in log.of(Message) if e.info.id == once.attr_str("id")]
        assert [e.message.conversation for e in messages] == ["only once"]
        assert not log.of(UndecryptableMessage)
        # Both copies are answered (else the server would keep redelivering), neither as a retry.
        assert await _delivery_receipts(simulator, BOB, once.attr_str("id"), 2) == 2
        _, received = await admin(simulator, "GET", f"/accounts/{BOB}/received")
        assert not [r for r in received["receipts"] if r["type"] == "retry"]
        assert client.is_connected
    finally:
        await client.disconnect()
