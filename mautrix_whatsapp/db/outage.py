"""Single database statements ride out a short outage (a PostgreSQL restart).

After a restart every pooled connection is dead and new ones are refused for a moment; without
this, each query in that window raised, and whatever it served (a received message, a Matrix
event, the client's Signal store) failed for good. A statement outside a transaction is retried
on connection errors for up to :data:`RETRY_SECONDS`; inside a transaction the caller's
transaction is what must be retried, so it is left alone.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mautrix.util.async_db import Database
from mautrix.util.async_db.database import conn_var

from ..transient import is_transient, retry_transient

RETRY_SECONDS = 30.0
STATEMENTS = ("execute", "executemany", "fetch", "fetchrow", "fetchval")


def _retrying(
    db: Database, statement: Callable[..., Awaitable[Any]], log: logging.Logger
) -> Callable[..., Awaitable[Any]]:
    async def expire_connections() -> None:
        # After a restart the pool's connections are dead or in a broken protocol state
        # (asyncpg: "got result for unknown protocol state"); the pool would hand them out
        # again. Expired, each is replaced by a fresh one when next acquired.
        pool = getattr(db, "pool", None)
        if pool is not None:
            await pool.expire_connections()

    @functools.wraps(statement)
    async def run(*args: Any, **kwargs: Any) -> Any:
        if conn_var.get(None) is not None:  # inside a transaction: the caller retries it
            try:
                return await statement(*args, **kwargs)
            except Exception as e:
                if is_transient(e):
                    await expire_connections()
                raise
        result: list[Any] = []

        async def attempt() -> None:
            result.append(await statement(*args, **kwargs))

        await retry_transient(
            attempt, log, "A database statement", RETRY_SECONDS, expire_connections
        )
        return result[-1]

    return run


def retry_statements_through_outages(db: Database, log: logging.Logger) -> None:
    """Wrap ``db``'s single-statement methods (on this instance only)."""
    for name in STATEMENTS:
        setattr(db, name, _retrying(db, getattr(db, name), log))
