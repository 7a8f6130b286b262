"""v4: message secrets (of polls and other messages others may vote on or modify), per user.

client-send's v03 creates this same table; at merge, keep theirs and drop this step."""

from mautrix.util.async_db import Connection, Scheme

DESCRIPTION = "WhatsApp message secrets"


async def upgrade_v4(conn: Connection, scheme: Scheme) -> None:
    blob = "BYTEA" if scheme in (Scheme.POSTGRES, Scheme.COCKROACH) else "BLOB"
    # chat and sender are user JIDs without device; a vote names the poll by (chat, sender, id).
    await conn.execute(
        f"""CREATE TABLE wa_message_secret (
            owner      TEXT NOT NULL REFERENCES "user"(mxid) ON DELETE CASCADE,
            chat       TEXT NOT NULL,
            sender     TEXT NOT NULL,
            message_id TEXT NOT NULL,
            secret     {blob} NOT NULL,
            PRIMARY KEY (owner, chat, sender, message_id)
        )"""
    )
