"""Disappearing messages (``disappearing_message``), portals' timers (two ``portal`` columns)
and users' own read state (``user_portal_read``).

The portal's timer is read and written here with targeted statements rather than through
:class:`~.portal.PortalRow`, so the portal row's upsert never overwrites it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mautrix.types import EventID, RoomID
from mautrix.util.async_db import Database


@dataclass(frozen=True)
class DisappearingRow:
    room_id: RoomID
    event_id: EventID
    expire_at: int
    """Unix seconds."""

    @classmethod
    def from_row(cls, row: Any) -> DisappearingRow:
        return cls(RoomID(row["room_id"]), EventID(row["event_id"]), int(row["expire_at"]))


@dataclass(frozen=True)
class PortalTimer:
    """A chat's disappearing timer: ``seconds`` (0 = off), set at ``set_at`` (unix s, 0 =
    never said)."""

    seconds: int = 0
    set_at: int = 0


class DisappearingTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, room_id: RoomID, event_id: EventID, expire_at: int) -> None:
        await self.db.execute(
            """INSERT INTO disappearing_message (room_id, event_id, expire_at)
               VALUES ($1, $2, $3)
               ON CONFLICT (room_id, event_id) DO UPDATE SET expire_at=excluded.expire_at""",
            room_id,
            event_id,
            expire_at,
        )

    async def next_expiry(self) -> int | None:
        """The earliest ``expire_at`` of all, None when nothing is waiting."""
        value = await self.db.fetchval("SELECT MIN(expire_at) FROM disappearing_message")
        return int(value) if value is not None else None

    async def get_expired(self, now: int, limit: int = 100) -> list[DisappearingRow]:
        rows = await self.db.fetch(
            """SELECT room_id, event_id, expire_at FROM disappearing_message
               WHERE expire_at <= $1 ORDER BY expire_at LIMIT $2""",
            now,
            limit,
        )
        return [DisappearingRow.from_row(row) for row in rows]

    async def delete(self, room_id: RoomID, event_id: EventID) -> None:
        await self.db.execute(
            "DELETE FROM disappearing_message WHERE room_id=$1 AND event_id=$2",
            room_id,
            event_id,
        )

    # ---- the portal's timer ----

    async def get_timer(self, jid: str, receiver: str) -> PortalTimer:
        row = await self.db.fetchrow(
            """SELECT disappearing_timer, disappearing_timer_set_at FROM portal
               WHERE jid=$1 AND receiver=$2""",
            jid,
            receiver,
        )
        if row is None:
            return PortalTimer()
        return PortalTimer(int(row["disappearing_timer"]), int(row["disappearing_timer_set_at"]))

    async def set_timer(self, jid: str, receiver: str, timer: PortalTimer) -> None:
        await self.db.execute(
            """UPDATE portal SET disappearing_timer=$3, disappearing_timer_set_at=$4
               WHERE jid=$1 AND receiver=$2""",
            jid,
            receiver,
            timer.seconds,
            timer.set_at,
        )

    # ---- users' own read state ----

    async def set_own_read(
        self, user_mxid: str, jid: str, receiver: str, message_id: str, timestamp: int
    ) -> None:
        """Remember the newest message the user read (an older receipt changes nothing)."""
        await self.db.execute(
            """INSERT INTO user_portal_read
                   (user_mxid, portal_jid, portal_receiver, last_read_id, last_read_ts)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (user_mxid, portal_jid, portal_receiver) DO UPDATE SET
                   last_read_id=excluded.last_read_id, last_read_ts=excluded.last_read_ts
               WHERE user_portal_read.last_read_ts <= excluded.last_read_ts""",
            user_mxid,
            jid,
            receiver,
            message_id,
            timestamp,
        )

    async def get_own_read(
        self, user_mxid: str, jid: str, receiver: str
    ) -> tuple[str, int] | None:
        """(message id, its timestamp in ms) of the newest message the user read, if known."""
        row = await self.db.fetchrow(
            """SELECT last_read_id, last_read_ts FROM user_portal_read
               WHERE user_mxid=$1 AND portal_jid=$2 AND portal_receiver=$3""",
            user_mxid,
            jid,
            receiver,
        )
        return (str(row["last_read_id"]), int(row["last_read_ts"])) if row else None

    async def unread_between(
        self, jid: str, receiver: str, after_ts: int, upto_ts: int, reader: str, limit: int = 100
    ) -> list[tuple[str, str]]:
        """(sender, message id) of the messages others sent in a portal after ``after_ts`` up
        to ``upto_ts`` (ms), oldest first, at most ``limit`` (the newest ones). Call notices
        (``call-…`` ids) were never WhatsApp messages and are left out."""
        rows = await self.db.fetch(
            """SELECT DISTINCT sender, id, timestamp FROM message
               WHERE chat_jid=$1 AND receiver=$2 AND timestamp > $3 AND timestamp <= $4
                   AND sender <> $5 AND id NOT LIKE 'call-%'
               ORDER BY timestamp DESC LIMIT $6""",
            jid,
            receiver,
            after_ts,
            upto_ts,
            reader,
            limit,
        )
        return [(str(row["sender"]), str(row["id"])) for row in reversed(rows)]
