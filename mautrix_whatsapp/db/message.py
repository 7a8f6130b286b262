"""The ``message`` table: which Matrix events a WhatsApp message became, and back.

Replies, edits, reactions and redactions find their target here, across restarts; a message
already here is not bridged again (WhatsApp redelivers after reconnects and retries).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mautrix.types import EventID, RoomID
from mautrix.util.async_db import Database


@dataclass
class MessageRow:
    chat_jid: str
    receiver: str
    sender: str
    """The sender's user JID (no device): WhatsApp message ids are unique per sender only."""
    id: str
    mxid: EventID
    mx_room: RoomID
    timestamp: int
    """Milliseconds since the epoch, WhatsApp's time for the message."""
    part: int = 0

    @classmethod
    def from_row(cls, row: Any) -> MessageRow:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_COLUMNS = ", ".join(f.name for f in fields(MessageRow))
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(fields(MessageRow)) + 1))


class MessageTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, message: MessageRow) -> bool:
        """Store one part; False (and nothing changed) if that part was stored already."""
        result = await self.db.execute(
            f"""INSERT INTO message ({_COLUMNS}) VALUES ({_PLACEHOLDERS})
               ON CONFLICT (chat_jid, receiver, sender, id, part) DO NOTHING""",
            *message.values(),
        )
        return _affected(result) > 0

    async def get_parts(
        self, chat_jid: str, receiver: str, sender: str, msg_id: str
    ) -> list[MessageRow]:
        """Every part of one WhatsApp message, in order (empty if it was never bridged)."""
        rows = await self.db.fetch(
            f"""SELECT {_COLUMNS} FROM message
               WHERE chat_jid=$1 AND receiver=$2 AND sender=$3 AND id=$4 ORDER BY part""",
            chat_jid,
            receiver,
            sender,
            msg_id,
        )
        return [MessageRow.from_row(row) for row in rows]

    async def get_by_id(self, chat_jid: str, receiver: str, msg_id: str) -> list[MessageRow]:
        """The parts of a message known by id only (e.g. a DM reply's ``stanzaId``)."""
        rows = await self.db.fetch(
            f"""SELECT {_COLUMNS} FROM message
               WHERE chat_jid=$1 AND receiver=$2 AND id=$3 ORDER BY sender, part""",
            chat_jid,
            receiver,
            msg_id,
        )
        return [MessageRow.from_row(row) for row in rows]

    async def get_by_mxid(self, mxid: EventID, mx_room: RoomID) -> MessageRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM message WHERE mxid=$1 AND mx_room=$2", mxid, mx_room
        )
        return MessageRow.from_row(row) if row else None

    async def get_last(self, chat_jid: str, receiver: str) -> MessageRow | None:
        """The newest message of a portal (by WhatsApp time), e.g. to mark it read."""
        row = await self.db.fetchrow(
            f"""SELECT {_COLUMNS} FROM message WHERE chat_jid=$1 AND receiver=$2
               ORDER BY timestamp DESC, part DESC LIMIT 1""",
            chat_jid,
            receiver,
        )
        return MessageRow.from_row(row) if row else None

    async def delete(self, chat_jid: str, receiver: str, sender: str, msg_id: str) -> None:
        await self.db.execute(
            "DELETE FROM message WHERE chat_jid=$1 AND receiver=$2 AND sender=$3 AND id=$4",
            chat_jid,
            receiver,
            sender,
            msg_id,
        )


def _affected(result: Any) -> int:
    """Rows touched by ``execute``: asyncpg returns ``"INSERT 0 1"``, SQLite a cursor."""
    if isinstance(result, str):
        return int(result.rsplit(" ", 1)[-1])
    return int(getattr(result, "rowcount", 0))
