"""v1: users, puppets and portals (the portal table is a skeleton for the chat issues)."""

from mautrix.util.async_db import Connection

DESCRIPTION = "Users, puppets and portals"


async def upgrade_v1(conn: Connection) -> None:
    # "user" is quoted: it is a reserved word in PostgreSQL.
    await conn.execute(
        """CREATE TABLE "user" (
            mxid              TEXT PRIMARY KEY,
            wa_jid            TEXT UNIQUE,
            phone             TEXT,
            management_room   TEXT,
            space_room        TEXT,
            phone_last_seen   BIGINT,
            offline_notice_ts BIGINT
        )"""
    )
    await conn.execute(
        """CREATE TABLE puppet (
            jid           TEXT PRIMARY KEY,
            phone         TEXT,
            displayname   TEXT,
            name_set      BOOLEAN NOT NULL DEFAULT false,
            avatar_url    TEXT,
            avatar_set    BOOLEAN NOT NULL DEFAULT false,
            is_registered BOOLEAN NOT NULL DEFAULT false,
            custom_mxid   TEXT,
            access_token  TEXT,
            base_url      TEXT
        )"""
    )
    await conn.execute(
        """CREATE TABLE portal (
            jid        TEXT NOT NULL,
            receiver   TEXT NOT NULL,
            mxid       TEXT UNIQUE,
            name       TEXT,
            topic      TEXT,
            avatar_url TEXT,
            encrypted  BOOLEAN NOT NULL DEFAULT false,
            PRIMARY KEY (jid, receiver)
        )"""
    )
