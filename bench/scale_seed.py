"""Seeding the bridge database with each user's chats, for ``bench/scale.py``.

Backfilling 50 chats per user through Synapse would make 50,000 rooms for 1,000 users (hours
on the shared machine), so the rows a bridge keeps for chats it has bridged are written
straight into its database while it is stopped: one ghost (``puppet``) per contact, one DM
``portal`` per contact with a room ID, and ``message`` rows for its last messages. The rows are
the bridge's own row classes (``PortalRow``, ``PuppetRow``, ``MessageRow``), so a schema change
breaks this seeding instead of going unnoticed; the database is upgraded by the bridge's own
upgrade table first. The room and event IDs are not in Synapse: the bridge reads these rows
only when such a chat speaks again, which the benchmark never makes them do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from mautrix.types import EventID, RoomID
from mautrix.util.async_db import Connection, Database

from mautrix_whatsapp.db import MessageRow, PortalRow, PuppetRow, upgrade_table

BATCH = 2000


@dataclass(frozen=True)
class SeedSize:
    portals_per_user: int
    messages_per_portal: int


def _insert_sql(table: str, row_type: type[Any]) -> str:
    names = [f.name for f in fields(row_type)]
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})"


def contact_jid(user_index: int, contact_index: int) -> str:
    """A contact of one user only (1557 + user + contact: 11 digits)."""
    return f"1557{user_index:05d}{contact_index:02d}@s.whatsapp.net"


def rows_for_user(
    user_index: int, user_jid: str, domain: str, size: SeedSize, now_ms: int
) -> tuple[list[PuppetRow], list[PortalRow], list[MessageRow]]:
    puppets, portals, messages = [], [], []
    for contact in range(size.portals_per_user):
        jid = contact_jid(user_index, contact)
        phone = jid.split("@")[0]
        puppets.append(
            PuppetRow(
                jid=jid,
                phone=phone,
                displayname=f"Contact {phone}",
                name_set=True,
                is_registered=True,
                full_name=f"Contact {phone}",
                push_name=f"Contact {phone}",
            )
        )
        room = RoomID(f"!seed{user_index}x{contact}:{domain}")
        portals.append(PortalRow(jid=jid, receiver=user_jid, mxid=room, name=None))
        for index in range(size.messages_per_portal):
            messages.append(
                MessageRow(
                    chat_jid=jid,
                    receiver=user_jid,
                    sender=jid if index % 2 else user_jid,
                    id=f"SEED{user_index:05d}{contact:02d}{index:04d}",
                    mxid=EventID(f"$seed{user_index}x{contact}x{index}"),
                    mx_room=room,
                    timestamp=now_ms - (size.messages_per_portal - index) * 60_000,
                )
            )
    return puppets, portals, messages


async def _insert_all(db: Database, sql: str, rows: Sequence[Any]) -> None:
    for start in range(0, len(rows), BATCH):
        batch = [row.values() for row in rows[start : start + BATCH]]
        conn: Connection
        async with db.acquire() as conn, conn.transaction():
            await conn.executemany(sql, batch)


async def seed_bridge_db(
    url: str, user_jids: Sequence[str], domain: str, size: SeedSize, now_ms: int
) -> int:
    """Write every user's chats; returns the number of rows written."""
    db = Database.create(url, upgrade_table=upgrade_table)
    await db.start()
    try:
        puppets: list[PuppetRow] = []
        portals: list[PortalRow] = []
        messages: list[MessageRow] = []
        for index, jid in enumerate(user_jids):
            more = rows_for_user(index, jid, domain, size, now_ms)
            puppets += more[0]
            portals += more[1]
            messages += more[2]
        await _insert_all(db, _insert_sql("puppet", PuppetRow), puppets)
        await _insert_all(db, _insert_sql("portal", PortalRow), portals)
        await _insert_all(db, _insert_sql("message", MessageRow), messages)
        return len(puppets) + len(portals) + len(messages)
    finally:
        await db.stop()
