"""v14: Matrix events accepted from the homeserver but not yet handled (``pending_matrix_event``).

A transaction is answered only once its message events are here, so a crash cannot lose what
the homeserver already considers delivered; ``attempted`` marks an event whose WhatsApp send
had started (after a crash it is reported as possibly not sent, never sent twice).
"""

from mautrix.util.async_db import Connection, Scheme

DESCRIPTION = "Pending Matrix events"


async def upgrade_v14(conn: Connection, scheme: Scheme) -> None:
    postgres = scheme in (Scheme.POSTGRES, Scheme.COCKROACH)
    serial = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    await conn.execute(
        f"""CREATE TABLE pending_matrix_event (
            arrival   {serial},
            event_id  TEXT    NOT NULL UNIQUE,
            event     TEXT    NOT NULL,
            attempted BOOLEAN NOT NULL DEFAULT false
        )"""
    )
