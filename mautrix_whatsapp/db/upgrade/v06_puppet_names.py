"""v6: what ghosts are named from (address-book, push and business names) and the WhatsApp id
of the picture their avatar was made from (uploaded once per picture id)."""

from mautrix.util.async_db import Connection

DESCRIPTION = "Ghost name sources and avatar picture id"


async def upgrade_v6(conn: Connection) -> None:
    for column in ("full_name", "first_name", "push_name", "business_name", "avatar_id"):
        await conn.execute(f"ALTER TABLE puppet ADD COLUMN {column} TEXT")
