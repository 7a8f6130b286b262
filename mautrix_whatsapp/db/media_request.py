"""Media requests (v13): backfilled placeholders whose file is to be asked of the phone."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mautrix.util.async_db import Database

PENDING = "pending"
DONE = "done"


@dataclass
class MediaRequestRow:
    user_mxid: str
    chat_jid: str
    receiver: str
    sender: str
    message_id: str
    part: int
    mx_room: str
    event_id: str
    timestamp: int
    """WhatsApp's time of the message, in milliseconds."""
    from_me: bool
    is_group: bool
    content: bytes
    """The serialized, unwrapped ``Message`` (converted again once the file is back)."""
    status: str = PENDING
    error: str = ""
    created_at: int = 0

    @classmethod
    def from_row(cls, row: Any) -> MediaRequestRow:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_COLS = ", ".join(f.name for f in fields(MediaRequestRow))
_PH = ", ".join(f"${i}" for i in range(1, len(fields(MediaRequestRow)) + 1))
_KEY = "user_mxid=$1 AND chat_jid=$2 AND receiver=$3 AND sender=$4 AND message_id=$5"


class MediaRequestTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, row: MediaRequestRow) -> None:
        """Store a request; the same message deferred again (a refill) starts over."""
        await self.db.execute(
            f"""INSERT INTO media_request ({_COLS}) VALUES ({_PH})
               ON CONFLICT (user_mxid, chat_jid, receiver, sender, message_id) DO UPDATE SET
                   part=excluded.part, mx_room=excluded.mx_room, event_id=excluded.event_id,
                   content=excluded.content, status=excluded.status, error=excluded.error,
                   created_at=excluded.created_at""",
            *row.values(),
        )

    async def get(
        self, user: str, chat: str, receiver: str, sender: str, message_id: str
    ) -> MediaRequestRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_COLS} FROM media_request WHERE {_KEY}",
            user,
            chat,
            receiver,
            sender,
            message_id,
        )
        return MediaRequestRow.from_row(row) if row else None

    async def pending(self, user: str) -> list[MediaRequestRow]:
        """The user's requests not yet answered, oldest message first."""
        rows = await self.db.fetch(
            f"""SELECT {_COLS} FROM media_request WHERE user_mxid=$1 AND status=$2
               ORDER BY timestamp, message_id""",
            user,
            PENDING,
        )
        return [MediaRequestRow.from_row(r) for r in rows]

    async def finish(self, row: MediaRequestRow, error: str = "") -> None:
        """Mark the request done; ``error`` says why the file could not be bridged."""
        row.status, row.error = DONE, error
        await self.db.execute(
            f"UPDATE media_request SET status=$6, error=$7 WHERE {_KEY}",
            row.user_mxid,
            row.chat_jid,
            row.receiver,
            row.sender,
            row.message_id,
            DONE,
            error,
        )
