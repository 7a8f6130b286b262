"""v4: app state: keys shared by our phone, each collection's version and LTHash, and the
value MAC set at each index (needed to subtract replaced values from the LTHash)."""

from mautrix.util.async_db import Connection, Scheme

DESCRIPTION = "WhatsApp app-state keys, collection versions and mutation MACs"


async def upgrade_v4(conn: Connection, scheme: Scheme) -> None:
    blob = "BYTEA" if scheme in (Scheme.POSTGRES, Scheme.COCKROACH) else "BLOB"
    owner = 'owner TEXT NOT NULL REFERENCES "user"(mxid) ON DELETE CASCADE'
    await conn.execute(
        f"""CREATE TABLE wa_app_state_sync_key (
            {owner},
            key_id      {blob} NOT NULL,
            key_data    {blob} NOT NULL,
            fingerprint {blob} NOT NULL,
            timestamp   BIGINT NOT NULL,
            PRIMARY KEY (owner, key_id)
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE wa_app_state_version (
            {owner},
            name    TEXT   NOT NULL,
            version BIGINT NOT NULL,
            hash    {blob} NOT NULL,
            PRIMARY KEY (owner, name)
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE wa_app_state_mutation_mac (
            {owner},
            name      TEXT   NOT NULL,
            version   BIGINT NOT NULL,
            index_mac {blob} NOT NULL,
            value_mac {blob} NOT NULL,
            PRIMARY KEY (owner, name, index_mac)
        )"""
    )
