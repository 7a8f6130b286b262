"""The ``reaction`` table: each sender's one reaction to a message, and its Matrix event.

WhatsApp allows one reaction per user and message (a new one replaces it), hence the key.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mautrix.types import EventID, RoomID
from mautrix.util.async_db import Database


@dataclass
class ReactionRow:
    chat_jid: str
    receiver: str
    target_sender: str
    target_id: str
    sender: str
    mxid: EventID
    mx_room: RoomID
    emoji: str
    timestamp: int
    """Milliseconds since the epoch."""

    @classmethod
    def from_row(cls, row: Any) -> ReactionRow:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_COLUMNS = ", ".join(f.name for f in fields(ReactionRow))
_KEY = "chat_jid=$1 AND receiver=$2 AND target_sender=$3 AND target_id=$4 AND sender=$5"
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(fields(ReactionRow)) + 1))


class ReactionTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert(self, reaction: ReactionRow) -> None:
        """Store a reaction, replacing the sender's previous one to the same message."""
        await self.db.execute(
            f"""INSERT INTO reaction ({_COLUMNS}) VALUES ({_PLACEHOLDERS})
               ON CONFLICT (chat_jid, receiver, target_sender, target_id, sender) DO UPDATE SET
                   mxid=excluded.mxid, mx_room=excluded.mx_room, emoji=excluded.emoji,
                   timestamp=excluded.timestamp""",
            *reaction.values(),
        )

    async def get(
        self, chat_jid: str, receiver: str, target_sender: str, target_id: str, sender: str
    ) -> ReactionRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM reaction WHERE {_KEY}",
            chat_jid,
            receiver,
            target_sender,
            target_id,
            sender,
        )
        return ReactionRow.from_row(row) if row else None

    async def get_by_mxid(self, mxid: EventID, mx_room: RoomID) -> ReactionRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM reaction WHERE mxid=$1 AND mx_room=$2", mxid, mx_room
        )
        return ReactionRow.from_row(row) if row else None

    async def delete(
        self, chat_jid: str, receiver: str, target_sender: str, target_id: str, sender: str
    ) -> None:
        await self.db.execute(
            f"DELETE FROM reaction WHERE {_KEY}",
            chat_jid,
            receiver,
            target_sender,
            target_id,
            sender,
        )
