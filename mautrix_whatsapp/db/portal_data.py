"""Queries across tables for whole portals and ghosts: deleting a portal with everything
bridged in it (``delete-portal``), and listing every ghost (``sync contacts``)."""

from __future__ import annotations

from mautrix.util.async_db import Connection, Database

_PORTAL_TABLES = ("reaction", "message")
"""Tables keyed by ``(chat_jid, receiver)``, emptied before the portal row goes."""


async def delete_portal(db: Database, jid: str, receiver: str) -> None:
    """Forget a portal and what was bridged in it, in one transaction: the next message of
    the chat makes a fresh portal whose old ids can't be found (no replies into the void)."""
    conn: Connection
    async with db.acquire() as conn, conn.transaction():
        for table in _PORTAL_TABLES:
            await conn.execute(
                f"DELETE FROM {table} WHERE chat_jid=$1 AND receiver=$2", jid, receiver
            )
        await conn.execute(
            "DELETE FROM user_portal_read WHERE portal_jid=$1 AND portal_receiver=$2",
            jid,
            receiver,
        )
        await conn.execute(
            "DELETE FROM disappearing_message WHERE room_id IN "
            "(SELECT mxid FROM portal WHERE jid=$1 AND receiver=$2)",
            jid,
            receiver,
        )
        await conn.execute("DELETE FROM portal WHERE jid=$1 AND receiver=$2", jid, receiver)


async def all_puppet_jids(db: Database) -> list[str]:
    """Every ghost's JID, in a stable order."""
    rows = await db.fetch("SELECT jid FROM puppet ORDER BY jid")
    return [str(row["jid"]) for row in rows]
