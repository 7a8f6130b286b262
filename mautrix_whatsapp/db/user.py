"""The ``user`` table: one row per Matrix user who talked to the bridge."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mautrix.types import RoomID, UserID
from mautrix.util.async_db import Database


@dataclass
class UserRow:
    """A Matrix user's link: device JID, phone, management room, phone activity (unix s)."""

    mxid: UserID
    wa_jid: str | None = None
    phone: str | None = None
    management_room: RoomID | None = None
    space_room: RoomID | None = None
    phone_last_seen: int | None = None
    offline_notice_ts: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> UserRow:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_COLUMNS = ", ".join(f.name for f in fields(UserRow))


class UserTable:
    """Queries on ``"user"``; rows are plain data, the caller decides when to save."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_by_mxid(self, mxid: UserID) -> UserRow | None:
        row = await self.db.fetchrow(f'SELECT {_COLUMNS} FROM "user" WHERE mxid=$1', mxid)
        return UserRow.from_row(row) if row else None

    async def get_by_wa_jid(self, wa_jid: str) -> UserRow | None:
        row = await self.db.fetchrow(f'SELECT {_COLUMNS} FROM "user" WHERE wa_jid=$1', wa_jid)
        return UserRow.from_row(row) if row else None

    async def all_logged_in(self) -> list[UserRow]:
        rows = await self.db.fetch(f'SELECT {_COLUMNS} FROM "user" WHERE wa_jid IS NOT NULL')
        return [UserRow.from_row(row) for row in rows]

    async def count_logged_in(self) -> int:
        count = await self.db.fetchval('SELECT COUNT(*) FROM "user" WHERE wa_jid IS NOT NULL')
        return int(count or 0)

    async def upsert(self, user: UserRow) -> None:
        await self.db.execute(
            """INSERT INTO "user" (mxid, wa_jid, phone, management_room, space_room,
                                   phone_last_seen, offline_notice_ts)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (mxid) DO UPDATE SET
                   wa_jid=excluded.wa_jid, phone=excluded.phone,
                   management_room=excluded.management_room, space_room=excluded.space_room,
                   phone_last_seen=excluded.phone_last_seen,
                   offline_notice_ts=excluded.offline_notice_ts""",
            *user.values(),
        )
