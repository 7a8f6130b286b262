"""The ``puppet`` table: one ghost per WhatsApp contact, keyed by the contact's JID."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mautrix.types import ContentURI, UserID
from mautrix.util.async_db import Database


@dataclass
class PuppetRow:
    jid: str
    phone: str | None = None
    displayname: str | None = None
    name_set: bool = False
    avatar_url: ContentURI | None = None
    avatar_set: bool = False
    is_registered: bool = False
    custom_mxid: UserID | None = None
    access_token: str | None = None
    base_url: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> PuppetRow:
        values = {f.name: row[f.name] for f in fields(cls)}
        for flag in ("name_set", "avatar_set", "is_registered"):
            values[flag] = bool(values[flag])
        return cls(**values)

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_COLUMNS = ", ".join(f.name for f in fields(PuppetRow))


class PuppetTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_by_jid(self, jid: str) -> PuppetRow | None:
        row = await self.db.fetchrow(f"SELECT {_COLUMNS} FROM puppet WHERE jid=$1", jid)
        return PuppetRow.from_row(row) if row else None

    async def get_by_custom_mxid(self, mxid: UserID) -> PuppetRow | None:
        row = await self.db.fetchrow(f"SELECT {_COLUMNS} FROM puppet WHERE custom_mxid=$1", mxid)
        return PuppetRow.from_row(row) if row else None

    async def upsert(self, puppet: PuppetRow) -> None:
        await self.db.execute(
            f"""INSERT INTO puppet ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (jid) DO UPDATE SET
                   phone=excluded.phone, displayname=excluded.displayname,
                   name_set=excluded.name_set, avatar_url=excluded.avatar_url,
                   avatar_set=excluded.avatar_set, is_registered=excluded.is_registered,
                   custom_mxid=excluded.custom_mxid, access_token=excluded.access_token,
                   base_url=excluded.base_url""",
            *puppet.values(),
        )
