"""v3: the messaging stores: LID ↔ phone-number map, sender-key recipients, message secrets."""

from mautrix.util.async_db import Connection, Scheme

DESCRIPTION = "WhatsApp LID map, sender-key recipients and message secrets"


async def upgrade_v3(conn: Connection, scheme: Scheme) -> None:
    blob = "BYTEA" if scheme in (Scheme.POSTGRES, Scheme.COCKROACH) else "BLOB"
    owner = 'owner TEXT NOT NULL REFERENCES "user"(mxid) ON DELETE CASCADE'
    # One row per LID user; the phone number is unique too (a mapping replaces older ones).
    await conn.execute(
        f"""CREATE TABLE wa_lid_map (
            {owner},
            lid TEXT NOT NULL,
            pn  TEXT NOT NULL,
            PRIMARY KEY (owner, lid),
            UNIQUE (owner, pn)
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE wa_sender_key_device (
            {owner},
            group_id TEXT NOT NULL,
            device   TEXT NOT NULL,
            PRIMARY KEY (owner, group_id, device)
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE wa_message_secret (
            {owner},
            chat       TEXT NOT NULL,
            sender     TEXT NOT NULL,
            message_id TEXT NOT NULL,
            secret     {blob} NOT NULL,
            PRIMARY KEY (owner, chat, sender, message_id)
        )"""
    )
