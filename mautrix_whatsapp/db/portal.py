"""The ``portal`` table: one row per bridged WhatsApp chat (skeleton for the chat issues).

``receiver`` is the WhatsApp JID of the user who owns a DM portal, and ``""`` for groups, so
two bridge users who chat with the same contact get two rooms.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mautrix.types import ContentURI, RoomID, UserID
from mautrix.util.async_db import Database


@dataclass
class PortalRow:
    jid: str
    receiver: str
    mxid: RoomID | None = None
    name: str | None = None
    topic: str | None = None
    avatar_url: ContentURI | None = None
    encrypted: bool = False

    @classmethod
    def from_row(cls, row: Any) -> PortalRow:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["encrypted"] = bool(values["encrypted"])
        return cls(**values)

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_COLUMNS = ", ".join(f.name for f in fields(PortalRow))


class PortalTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_by_jid(self, jid: str, receiver: str = "") -> PortalRow | None:
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM portal WHERE jid=$1 AND receiver=$2", jid, receiver
        )
        return PortalRow.from_row(row) if row else None

    async def get_by_mxid(self, mxid: RoomID) -> PortalRow | None:
        row = await self.db.fetchrow(f"SELECT {_COLUMNS} FROM portal WHERE mxid=$1", mxid)
        return PortalRow.from_row(row) if row else None

    async def upsert(self, portal: PortalRow) -> None:
        await self.db.execute(
            f"""INSERT INTO portal ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (jid, receiver) DO UPDATE SET
                   mxid=excluded.mxid, name=excluded.name, topic=excluded.topic,
                   avatar_url=excluded.avatar_url, encrypted=excluded.encrypted""",
            *portal.values(),
        )

    async def delete(self, jid: str, receiver: str = "") -> None:
        await self.db.execute("DELETE FROM portal WHERE jid=$1 AND receiver=$2", jid, receiver)

    # ---- relay ----

    async def get_relay(self, jid: str, receiver: str = "") -> UserID | None:
        """The Matrix user relaying this portal (``set-relay``), if any."""
        value = await self.db.fetchval(
            "SELECT relay_user_id FROM portal WHERE jid=$1 AND receiver=$2", jid, receiver
        )
        return UserID(value) if value else None

    async def set_relay(self, jid: str, receiver: str, user_id: UserID | None) -> None:
        await self.db.execute(
            "UPDATE portal SET relay_user_id=$3 WHERE jid=$1 AND receiver=$2",
            jid,
            receiver,
            user_id,
        )
