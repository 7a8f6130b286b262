"""The ``pending_matrix_event`` table: Matrix events the homeserver delivered, not yet handled.

Written before the appservice transaction is answered, deleted once the event was handled;
after a crash, what is left is handled again (see :mod:`mautrix_whatsapp.matrix_pending`).
"""

from __future__ import annotations

import json
from typing import Any

from mautrix.util.async_db import Connection, Database


class PendingMatrixTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert_many(self, events: list[dict[str, Any]]) -> None:
        """Keep the raw events (one already kept, e.g. a retried transaction, stays as it was)."""
        rows = [(event["event_id"], json.dumps(event)) for event in events]
        conn: Connection
        async with self.db.acquire() as conn, conn.transaction():
            await conn.executemany(
                """INSERT INTO pending_matrix_event (event_id, event) VALUES ($1, $2)
                   ON CONFLICT (event_id) DO NOTHING""",
                rows,
            )

    async def delete(self, event_id: str) -> None:
        await self.db.execute("DELETE FROM pending_matrix_event WHERE event_id=$1", event_id)

    async def start_attempt(self, event_id: str) -> bool:
        """Mark the event's send as started; returns whether an earlier run had started it."""
        before = await self.db.fetchval(
            "SELECT attempted FROM pending_matrix_event WHERE event_id=$1", event_id
        )
        if before:
            return True
        await self.db.execute(
            "UPDATE pending_matrix_event SET attempted=true WHERE event_id=$1", event_id
        )
        return False

    async def all(self) -> list[dict[str, Any]]:
        """Every pending raw event, in the order the homeserver delivered them."""
        rows = await self.db.fetch("SELECT event FROM pending_matrix_event ORDER BY arrival")
        return [json.loads(row["event"]) for row in rows]
