"""v10: the relay of a portal (``set-relay``): the Matrix user whose WhatsApp login sends the
messages of room members who have none."""

from mautrix.util.async_db import Connection

DESCRIPTION = "Portal relay user"


async def upgrade_v10(conn: Connection) -> None:
    await conn.execute("ALTER TABLE portal ADD COLUMN relay_user_id TEXT")
