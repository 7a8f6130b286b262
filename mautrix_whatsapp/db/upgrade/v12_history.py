"""v12: the phone's history, stored as it streams in so nothing depends on the process.

``history_conversation`` is one chat of one user's history sync, with the phone's state of it
(unread, pinned, muted, archived), whether it was chosen for a portal at login (``chosen``)
and whether its portal was filled (``backfilled``).
``history_message`` holds its past messages until they are bridged: the message as a live one
(``content``: the unwrapped ``Message``) and the phone's stored form (``web_message_info``).
``history_progress`` is per user: chunks taken in, the last one's time, when portals were
dispatched, and the management-room notice that shows the progress.
"""

from mautrix.util.async_db import Connection, Scheme

DESCRIPTION = "History sync store for backfill, personal spaces"


async def upgrade_v12(conn: Connection, scheme: Scheme) -> None:
    blob = "BYTEA" if scheme in (Scheme.POSTGRES, Scheme.COCKROACH) else "BLOB"
    owner = 'user_mxid TEXT NOT NULL REFERENCES "user"(mxid) ON DELETE CASCADE'
    await conn.execute(
        f"""CREATE TABLE history_conversation (
            {owner},
            chat_jid        TEXT    NOT NULL,
            name            TEXT    NOT NULL DEFAULT '',
            last_message_at BIGINT  NOT NULL DEFAULT 0,
            unread_count    INTEGER NOT NULL DEFAULT 0,
            marked_unread   BOOLEAN NOT NULL DEFAULT false,
            archived        BOOLEAN NOT NULL DEFAULT false,
            pinned_at       BIGINT  NOT NULL DEFAULT 0,
            mute_end        BIGINT  NOT NULL DEFAULT 0,
            chosen          BOOLEAN NOT NULL DEFAULT false,
            backfilled      BOOLEAN NOT NULL DEFAULT false,
            PRIMARY KEY (user_mxid, chat_jid)
        )"""
    )
    await conn.execute(
        f"""CREATE TABLE history_message (
            {owner},
            chat_jid         TEXT    NOT NULL,
            sender           TEXT    NOT NULL,
            id               TEXT    NOT NULL,
            timestamp        BIGINT  NOT NULL,
            from_me          BOOLEAN NOT NULL,
            push_name        TEXT    NOT NULL DEFAULT '',
            view_once        BOOLEAN NOT NULL DEFAULT false,
            reaction_to      TEXT    NOT NULL DEFAULT '',
            content          {blob}  NOT NULL,
            web_message_info {blob},
            PRIMARY KEY (user_mxid, chat_jid, sender, id)
        )"""
    )
    await conn.execute(
        "CREATE INDEX history_message_chat ON history_message (user_mxid, chat_jid, timestamp)"
    )
    await conn.execute(
        """CREATE TABLE history_progress (
            user_mxid     TEXT PRIMARY KEY REFERENCES "user"(mxid) ON DELETE CASCADE,
            chunks        INTEGER NOT NULL DEFAULT 0,
            last_chunk_at BIGINT  NOT NULL DEFAULT 0,
            dispatched_at BIGINT  NOT NULL DEFAULT 0,
            notice_room   TEXT,
            notice_event  TEXT,
            space_room    TEXT
        )"""
    )
