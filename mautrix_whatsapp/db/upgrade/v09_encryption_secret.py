"""v9: secrets of end-to-bridge encryption that mautrix's crypto store has no table for (the
bot's cross-signing recovery key, as the Go bridges keep it)."""

from mautrix.util.async_db import Connection

DESCRIPTION = "End-to-bridge encryption secrets"


async def upgrade_v9(conn: Connection) -> None:
    await conn.execute(
        """CREATE TABLE encryption_secret (
            name   TEXT PRIMARY KEY,
            secret TEXT NOT NULL
        )"""
    )
