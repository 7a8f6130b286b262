"""SQL implementation of ``whatsapp.event_buffer.EventBuffer`` for one bridge user.

:meth:`SQLEventBuffer.decryption_txn` opens a transaction and makes it the task's connection
(mautrix's ``Database.acquire`` reuses the connection in its context): the Signal store's writes
during the decryption then commit with the plaintext, as one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from mautrix.util.async_db import Connection, Database

from ..whatsapp.event_buffer import BufferedEvent


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class SQLEventBuffer:
    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner

    @contextlib.asynccontextmanager
    async def decryption_txn(self) -> AsyncIterator[None]:
        conn: Connection
        async with self.db.acquire() as conn, conn.transaction():
            yield

    async def get(self, hash_: bytes) -> BufferedEvent | None:
        row = await self.db.fetchrow(
            """SELECT plaintext, server_timestamp, insert_timestamp FROM wa_event_buffer
               WHERE owner=$1 AND ciphertext_hash=$2""",
            self.owner,
            hash_,
        )
        if row is None:
            return None
        plaintext = row["plaintext"]
        return BufferedEvent(
            bytes(plaintext) if plaintext is not None else None,
            _moment(row["server_timestamp"]),
            _moment(row["insert_timestamp"]),
        )

    async def put(self, hash_: bytes, plaintext: bytes, server_timestamp: datetime) -> None:
        await self.db.execute(
            """INSERT INTO wa_event_buffer
                   (owner, ciphertext_hash, plaintext, server_timestamp, insert_timestamp)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (owner, ciphertext_hash) DO UPDATE SET plaintext=excluded.plaintext""",
            self.owner,
            hash_,
            plaintext,
            _ms(server_timestamp),
            _ms(datetime.now(UTC)),
        )

    async def clear_plaintext(self, hash_: bytes) -> None:
        await self.db.execute(
            "UPDATE wa_event_buffer SET plaintext=NULL WHERE owner=$1 AND ciphertext_hash=$2",
            self.owner,
            hash_,
        )

    async def delete_older_than(self, before: datetime) -> None:
        await self.db.execute(
            "DELETE FROM wa_event_buffer WHERE owner=$1 AND insert_timestamp<$2",
            self.owner,
            _ms(before),
        )
