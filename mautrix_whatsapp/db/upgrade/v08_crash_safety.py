"""v8: what a crash must not lose: received messages not yet in Matrix (``pending_message``)
and decrypted plaintexts not yet handled (``wa_event_buffer``, the client's event buffer).

``arrival`` orders pending messages as they came (a portal's are re-run in that order after a
restart); a message is pending once, whichever bridge user received it.
"""

from mautrix.util.async_db import Connection, Scheme

DESCRIPTION = "Pending messages and the decrypted-event buffer"


async def upgrade_v8(conn: Connection, scheme: Scheme) -> None:
    postgres = scheme in (Scheme.POSTGRES, Scheme.COCKROACH)
    blob = "BYTEA" if postgres else "BLOB"
    serial = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    owner = 'owner TEXT NOT NULL REFERENCES "user"(mxid) ON DELETE CASCADE'
    await conn.execute(
        f"""CREATE TABLE wa_event_buffer (
            {owner},
            ciphertext_hash  {blob} NOT NULL,
            plaintext        {blob},
            server_timestamp BIGINT NOT NULL,
            insert_timestamp BIGINT NOT NULL,
            PRIMARY KEY (owner, ciphertext_hash)
        )"""
    )
    await conn.execute(
        "CREATE INDEX wa_event_buffer_insert_idx ON wa_event_buffer (insert_timestamp)"
    )
    await conn.execute(
        f"""CREATE TABLE pending_message (
            arrival    {serial},
            user_mxid  TEXT    NOT NULL REFERENCES "user"(mxid) ON DELETE CASCADE,
            chat_jid   TEXT    NOT NULL,
            receiver   TEXT    NOT NULL,
            sender     TEXT    NOT NULL,
            id         TEXT    NOT NULL,
            timestamp  BIGINT  NOT NULL,
            is_from_me BOOLEAN NOT NULL,
            is_group   BOOLEAN NOT NULL,
            push_name  TEXT    NOT NULL,
            message    {blob}  NOT NULL,
            UNIQUE (chat_jid, receiver, sender, id),
            FOREIGN KEY (chat_jid, receiver) REFERENCES portal(jid, receiver)
                ON DELETE CASCADE ON UPDATE CASCADE
        )"""
    )
