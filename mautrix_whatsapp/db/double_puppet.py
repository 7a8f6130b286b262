"""The ``double_puppet`` table: the Matrix access token each double-puppeted user gave."""

from __future__ import annotations

from dataclasses import dataclass

from mautrix.types import UserID
from mautrix.util.async_db import Database


@dataclass(frozen=True)
class DoublePuppetRow:
    user_mxid: UserID
    access_token: str
    base_url: str | None = None


class DoublePuppetTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_mxid: UserID) -> DoublePuppetRow | None:
        row = await self.db.fetchrow(
            "SELECT user_mxid, access_token, base_url FROM double_puppet WHERE user_mxid=$1",
            user_mxid,
        )
        if row is None:
            return None
        return DoublePuppetRow(UserID(row["user_mxid"]), row["access_token"], row["base_url"])

    async def put(self, row: DoublePuppetRow) -> None:
        await self.db.execute(
            """INSERT INTO double_puppet (user_mxid, access_token, base_url) VALUES ($1, $2, $3)
               ON CONFLICT (user_mxid) DO UPDATE
               SET access_token=excluded.access_token, base_url=excluded.base_url""",
            row.user_mxid,
            row.access_token,
            row.base_url,
        )

    async def delete(self, user_mxid: UserID) -> None:
        await self.db.execute("DELETE FROM double_puppet WHERE user_mxid=$1", user_mxid)
