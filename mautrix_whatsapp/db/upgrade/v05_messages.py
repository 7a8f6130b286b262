"""v5: the message and reaction tables: WhatsApp message ids ↔ Matrix event ids, per portal.

A WhatsApp message id is unique only per sender, so the sender is part of the key; ``part``
numbers the Matrix events one WhatsApp message became (a caption beside its media, …).
Both tables follow their portal (``ON DELETE CASCADE``).
"""

from mautrix.util.async_db import Connection, Scheme

DESCRIPTION = "Message and reaction tables"


async def upgrade_v5(conn: Connection, scheme: Scheme) -> None:
    portal = (
        "FOREIGN KEY (chat_jid, receiver) REFERENCES portal(jid, receiver) "
        "ON DELETE CASCADE ON UPDATE CASCADE"
    )
    await conn.execute(
        f"""CREATE TABLE message (
            chat_jid  TEXT    NOT NULL,
            receiver  TEXT    NOT NULL,
            sender    TEXT    NOT NULL,
            id        TEXT    NOT NULL,
            part      INTEGER NOT NULL DEFAULT 0,
            mxid      TEXT    NOT NULL,
            mx_room   TEXT    NOT NULL,
            timestamp BIGINT  NOT NULL,
            PRIMARY KEY (chat_jid, receiver, sender, id, part),
            UNIQUE (mxid, mx_room),
            {portal}
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE reaction (
            chat_jid      TEXT   NOT NULL,
            receiver      TEXT   NOT NULL,
            target_sender TEXT   NOT NULL,
            target_id     TEXT   NOT NULL,
            sender        TEXT   NOT NULL,
            mxid          TEXT   NOT NULL,
            mx_room       TEXT   NOT NULL,
            emoji         TEXT   NOT NULL,
            timestamp     BIGINT NOT NULL,
            PRIMARY KEY (chat_jid, receiver, target_sender, target_id, sender),
            UNIQUE (mxid, mx_room),
            {portal}
        )"""
    )
