"""v13: media requests of backfilled messages whose file had expired.

``media_request`` is one history message bridged as a placeholder (``event_id``, part
``part`` of the message) because its file was gone from WhatsApp's servers: the message as a
live one (``content``: the unwrapped ``Message``) so its conversion can run again, and the
request's state (``pending`` until the phone answered or the bridge gave up, then ``done``
with ``error`` saying why it failed, empty when the file was bridged). Kept in the database so
a restart still asks the phone and replaces the placeholder.
"""

from mautrix.util.async_db import Connection, Scheme

DESCRIPTION = "Media requests for expired backfilled media"


async def upgrade_v13(conn: Connection, scheme: Scheme) -> None:
    blob = "BYTEA" if scheme in (Scheme.POSTGRES, Scheme.COCKROACH) else "BLOB"
    await conn.execute(
        f"""CREATE TABLE media_request (
            user_mxid  TEXT    NOT NULL REFERENCES "user"(mxid) ON DELETE CASCADE,
            chat_jid   TEXT    NOT NULL,
            receiver   TEXT    NOT NULL,
            sender     TEXT    NOT NULL,
            message_id TEXT    NOT NULL,
            part       INTEGER NOT NULL DEFAULT 0,
            mx_room    TEXT    NOT NULL,
            event_id   TEXT    NOT NULL,
            timestamp  BIGINT  NOT NULL,
            from_me    BOOLEAN NOT NULL DEFAULT false,
            is_group   BOOLEAN NOT NULL DEFAULT false,
            content    {blob}  NOT NULL,
            status     TEXT    NOT NULL DEFAULT 'pending',
            error      TEXT    NOT NULL DEFAULT '',
            created_at BIGINT  NOT NULL DEFAULT 0,
            PRIMARY KEY (user_mxid, chat_jid, receiver, sender, message_id)
        )"""
    )
    await conn.execute(
        "CREATE INDEX media_request_pending_idx ON media_request (user_mxid, status)"
    )
