"""The ``pending_message`` table: received WhatsApp messages not yet in Matrix.

A message is written here before the client may acknowledge it to WhatsApp, and deleted in
the transaction that stores its Matrix event ids; after a crash, what is left is bridged first.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, fields
from typing import Any

from mautrix.util.async_db import Connection, Database

log = logging.getLogger("mau.db.pending")


@dataclass
class PendingMessageRow:
    user_mxid: str
    """The bridge user whose connection received it (the source when it is re-run)."""
    chat_jid: str
    receiver: str
    sender: str
    id: str
    timestamp: int
    """Milliseconds since the epoch, WhatsApp's time for the message."""
    is_from_me: bool
    is_group: bool
    push_name: str
    message: bytes
    """The ``waE2E.Message``, serialized."""

    @classmethod
    def from_row(cls, row: Any) -> PendingMessageRow:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["is_from_me"] = bool(values["is_from_me"])
        values["is_group"] = bool(values["is_group"])
        values["message"] = bytes(values["message"])
        return cls(**values)

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_COLUMNS = ", ".join(f.name for f in fields(PendingMessageRow))
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(fields(PendingMessageRow)) + 1))


PendingKey = tuple[str, str, str, str]
"""``(chat_jid, receiver, sender, id)``"""


class PendingMessageTable:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._to_delete: list[PendingKey] = []
        self._deleter: asyncio.Task[None] | None = None

    async def insert(self, row: PendingMessageRow) -> None:
        """Keep ``row`` (a message already pending, e.g. redelivered, stays as it was)."""
        await self.db.execute(
            f"""INSERT INTO pending_message ({_COLUMNS}) VALUES ({_PLACEHOLDERS})
               ON CONFLICT (chat_jid, receiver, sender, id) DO NOTHING""",
            *row.values(),
        )

    async def delete(self, chat_jid: str, receiver: str, sender: str, msg_id: str) -> None:
        await self.db.execute(
            """DELETE FROM pending_message
               WHERE chat_jid=$1 AND receiver=$2 AND sender=$3 AND id=$4""",
            chat_jid,
            receiver,
            sender,
            msg_id,
        )

    def delete_soon(self, chat_jid: str, receiver: str, sender: str, msg_id: str) -> None:
        """Delete a bridged message's row in the background, batched with others.

        Off the portal's path to Matrix: a row whose deletion a crash cut short is re-run at
        the next start and dropped there as already bridged.
        """
        self._to_delete.append((chat_jid, receiver, sender, msg_id))
        if self._deleter is None or self._deleter.done():
            self._deleter = asyncio.create_task(self._delete_batches())

    async def _delete_batches(self) -> None:
        conn: Connection
        while self._to_delete:
            batch, self._to_delete = self._to_delete, []
            try:
                async with self.db.acquire() as conn, conn.transaction():
                    await conn.executemany(
                        """DELETE FROM pending_message
                           WHERE chat_jid=$1 AND receiver=$2 AND sender=$3 AND id=$4""",
                        batch,
                    )
            except Exception:
                log.exception("Failed to delete %d bridged pending messages", len(batch))

    async def flush(self) -> None:
        """Wait for the background deletions (tests, shutdown)."""
        while self._deleter is not None and not self._deleter.done():
            await asyncio.shield(self._deleter)

    async def all(self) -> list[PendingMessageRow]:
        """Every pending message, by portal, then by time and as they arrived."""
        rows = await self.db.fetch(
            f"""SELECT {_COLUMNS} FROM pending_message
               ORDER BY chat_jid, receiver, timestamp, arrival"""
        )
        return [PendingMessageRow.from_row(row) for row in rows]
