"""v7: disappearing messages and read state.

``disappearing_message`` holds every bridged Matrix event that must be redacted at
``expire_at`` (unix seconds; WhatsApp's timers run from when a message was sent), so expiry
survives a restart. The portal gets its chat's timer (seconds, 0 = off) and when that timer was
last set (WhatsApp's ``ephemeralSettingTimestamp``: older implied changes are ignored).
``user_portal_read`` remembers the newest message each user read in each portal on their phone
or another companion (``read-self``), for double puppeting to mark as read.
"""

from mautrix.util.async_db import Connection

DESCRIPTION = "Disappearing messages, portal timers and users' read state"


async def upgrade_v7(conn: Connection) -> None:
    await conn.execute(
        """CREATE TABLE disappearing_message (
            room_id   TEXT   NOT NULL,
            event_id  TEXT   NOT NULL,
            expire_at BIGINT NOT NULL,
            PRIMARY KEY (room_id, event_id)
        )"""
    )
    await conn.execute(
        "CREATE INDEX disappearing_message_expiry ON disappearing_message (expire_at)"
    )
    await conn.execute(
        "ALTER TABLE portal ADD COLUMN disappearing_timer INTEGER NOT NULL DEFAULT 0"
    )
    await conn.execute(
        "ALTER TABLE portal ADD COLUMN disappearing_timer_set_at BIGINT NOT NULL DEFAULT 0"
    )
    await conn.execute(
        """CREATE TABLE user_portal_read (
            user_mxid       TEXT   NOT NULL,
            portal_jid      TEXT   NOT NULL,
            portal_receiver TEXT   NOT NULL,
            last_read_id    TEXT   NOT NULL,
            last_read_ts    BIGINT NOT NULL,
            PRIMARY KEY (user_mxid, portal_jid, portal_receiver),
            FOREIGN KEY (portal_jid, portal_receiver) REFERENCES portal(jid, receiver)
                ON DELETE CASCADE ON UPDATE CASCADE
        )"""
    )
