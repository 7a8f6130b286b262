"""v2: the WhatsApp client's stores (device identity and Signal state), one set per user."""

from mautrix.util.async_db import Connection, Scheme

DESCRIPTION = "WhatsApp device identity and Signal stores"


async def upgrade_v2(conn: Connection, scheme: Scheme) -> None:
    blob = "BYTEA" if scheme in (Scheme.POSTGRES, Scheme.COCKROACH) else "BLOB"
    owner = 'owner TEXT NOT NULL REFERENCES "user"(mxid) ON DELETE CASCADE'
    # The identity as DeviceIdentity.to_dict() JSON: it holds private keys, like every table here.
    await conn.execute(
        f"""CREATE TABLE wa_device (
            {owner} PRIMARY KEY,
            jid  TEXT,
            data TEXT NOT NULL
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE wa_identity (
            {owner},
            address  TEXT NOT NULL,
            identity {blob} NOT NULL,
            PRIMARY KEY (owner, address)
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE wa_pre_key (
            {owner},
            key_id INTEGER NOT NULL,
            record {blob} NOT NULL,
            PRIMARY KEY (owner, key_id)
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE wa_signed_pre_key (
            {owner},
            key_id INTEGER NOT NULL,
            record {blob} NOT NULL,
            PRIMARY KEY (owner, key_id)
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE wa_session (
            {owner},
            name    TEXT NOT NULL,
            device  BIGINT NOT NULL,
            record  {blob} NOT NULL,
            PRIMARY KEY (owner, name, device)
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE wa_sender_key (
            {owner},
            group_id TEXT NOT NULL,
            sender   TEXT NOT NULL,
            record   {blob} NOT NULL,
            PRIMARY KEY (owner, group_id, sender)
        )"""
    )
