"""The ``puppet`` table: one ghost per WhatsApp contact, keyed by the contact's JID.

Besides the Matrix profile it last set (``displayname``, ``avatar_url``), a row keeps what the
name is made from (``full_name``/``first_name`` from the address book, ``push_name``,
``business_name``) and ``avatar_id``, the WhatsApp picture id the avatar was uploaded from
(``""``: the contact has no picture; None: never asked).
"""

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
    full_name: str | None = None
    first_name: str | None = None
    push_name: str | None = None
    business_name: str | None = None
    avatar_id: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> PuppetRow:
        values = {f.name: row[f.name] for f in fields(cls)}
        for flag in ("name_set", "avatar_set", "is_registered"):
            values[flag] = bool(values[flag])
        return cls(**values)

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


_NAMES = [f.name for f in fields(PuppetRow)]
_COLUMNS = ", ".join(_NAMES)
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(_NAMES) + 1))
_UPDATES = ", ".join(f"{name}=excluded.{name}" for name in _NAMES if name != "jid")


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
            f"""INSERT INTO puppet ({_COLUMNS}) VALUES ({_PLACEHOLDERS})
               ON CONFLICT (jid) DO UPDATE SET {_UPDATES}""",
            *puppet.values(),
        )

    async def delete(self, jid: str) -> None:
        await self.db.execute("DELETE FROM puppet WHERE jid=$1", jid)

    async def pn_for_lid(self, lid_user: str) -> str | None:
        """The phone number of LID ``lid_user`` as any bridge user's client learned it.

        A LID names one account for everyone, so any user's mapping will do; it is read from
        the clients' ``wa_lid_map`` (``db/whatsapp_store.py``), the same rows ``client.lids``
        keeps.
        """
        value = await self.db.fetchval(
            "SELECT pn FROM wa_lid_map WHERE lid=$1 ORDER BY owner LIMIT 1", lid_user
        )
        return str(value) if value is not None else None
