"""The crash-safety tables: the client's event buffer (SQL and memory alike, and atomic with
the Signal store) and pending messages (kept once, listed per portal in arrival order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mautrix.types import UserID
from mautrix.util.async_db import Database

from mautrix_whatsapp.db import BridgeDB, PendingMessageRow, PortalRow, UserRow
from mautrix_whatsapp.db.event_buffer import SQLEventBuffer
from mautrix_whatsapp.db.whatsapp_store import SQLSignalStore
from mautrix_whatsapp.whatsapp.crypto.keys import KeyPair
from mautrix_whatsapp.whatsapp.event_buffer import (
    EventBuffer,
    MemoryEventBuffer,
    ciphertext_hash,
)
from mautrix_whatsapp.whatsapp.signal.address import SignalAddress

ALICE = UserID("@alice:example.org")
BOB = UserID("@bob:example.org")
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def check_event_buffer(buffer: EventBuffer, other: EventBuffer) -> None:
    """The contract, against ``buffer``; ``other`` belongs to someone else and stays empty."""
    first, second = ciphertext_hash(b"one"), ciphertext_hash(b"two")
    assert await buffer.get(first) is None
    async with buffer.decryption_txn():
        await buffer.put(first, b"plain one", T0)
    await buffer.put(second, b"plain two", T0)
    found = await buffer.get(first)
    assert found is not None and found.plaintext == b"plain one"
    assert found.server_timestamp == T0
    assert await other.get(first) is None
    await buffer.clear_plaintext(first)
    found = await buffer.get(first)
    assert found is not None and found.plaintext is None  # handled: the hash stays
    await buffer.delete_older_than(datetime.now(UTC) - timedelta(days=1))
    assert await buffer.get(first) is not None
    await buffer.delete_older_than(datetime.now(UTC) + timedelta(seconds=1))
    assert await buffer.get(first) is None and await buffer.get(second) is None


async def _tables(database: Database) -> BridgeDB:
    tables = BridgeDB(database)
    for mxid in (ALICE, BOB):
        await tables.users.upsert(UserRow(mxid=mxid))
    return tables


async def test_event_buffer_contract(database: Database) -> None:
    await _tables(database)
    await check_event_buffer(SQLEventBuffer(database, ALICE), SQLEventBuffer(database, BOB))
    await check_event_buffer(MemoryEventBuffer(), MemoryEventBuffer())


async def test_decryption_txn_commits_the_session_with_the_plaintext_or_neither(
    database: Database,
) -> None:
    await _tables(database)
    buffer = SQLEventBuffer(database, ALICE)
    signal = SQLSignalStore(database, ALICE, KeyPair.generate(), 1)
    address = SignalAddress("15550001", 0)
    hash_ = ciphertext_hash(b"ciphertext")

    with pytest.raises(RuntimeError):
        async with buffer.decryption_txn():
            await signal.store_session(address, b"ratchet moved")
            await buffer.put(hash_, b"plaintext", T0)
            raise RuntimeError("the process dies before the commit")
    assert await signal.load_session(address) is None
    assert await buffer.get(hash_) is None

    async with buffer.decryption_txn():
        await signal.store_session(address, b"ratchet moved")
        await buffer.put(hash_, b"plaintext", T0)
    assert await signal.load_session(address) == b"ratchet moved"
    found = await buffer.get(hash_)
    assert found is not None and found.plaintext == b"plaintext"


def _pending(chat: str, msg_id: str, timestamp: int, user: str = ALICE) -> PendingMessageRow:
    return PendingMessageRow(
        user_mxid=user,
        chat_jid=chat,
        receiver="",
        sender="1555@s.whatsapp.net",
        id=msg_id,
        timestamp=timestamp,
        is_from_me=False,
        is_group=True,
        push_name="Someone",
        message=b"\x0a\x02hi",
    )


async def test_pending_messages_are_kept_once_and_listed_in_order(database: Database) -> None:
    tables = await _tables(database)
    for chat in ("b@g.us", "a@g.us"):
        await tables.portals.upsert(PortalRow(jid=chat, receiver=""))
    await tables.pending.insert(_pending("b@g.us", "B1", 1000))
    await tables.pending.insert(_pending("a@g.us", "A2", 2000))
    await tables.pending.insert(_pending("a@g.us", "A1", 1000))
    await tables.pending.insert(_pending("a@g.us", "A3", 2000))
    # The same group message through a second user, or redelivered: still one row.
    await tables.pending.insert(_pending("a@g.us", "A1", 1000, user=BOB))
    rows = await tables.pending.all()
    assert [(r.chat_jid, r.id) for r in rows] == [
        ("a@g.us", "A1"),
        ("a@g.us", "A2"),
        ("a@g.us", "A3"),
        ("b@g.us", "B1"),
    ]
    assert rows[0] == _pending("a@g.us", "A1", 1000)
    await tables.pending.delete("a@g.us", "", "1555@s.whatsapp.net", "A2")
    assert [r.id for r in await tables.pending.all()] == ["A1", "A3", "B1"]
    # Bridged messages' rows go in the background, in batches.
    tables.pending.delete_soon("a@g.us", "", "1555@s.whatsapp.net", "A1")
    tables.pending.delete_soon("b@g.us", "", "1555@s.whatsapp.net", "B1")
    await tables.pending.flush()
    assert [r.id for r in await tables.pending.all()] == ["A3"]
