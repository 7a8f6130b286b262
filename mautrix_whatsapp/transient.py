"""Retrying a portal job through outages of the homeserver or the database.

A received WhatsApp message is acknowledged once it is kept; if bridging it then fails because
Synapse is down or PostgreSQL restarts, giving up would leave it in ``pending_message`` until the
next start of the bridge. Such failures are retried here, with a capped backoff, while the
portal's queue waits (so the chat's order holds); any other error is raised at once.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from mautrix.errors import MatrixConnectionError, MatrixRequestError

FIRST_PAUSE = 0.25
MAX_PAUSE = 5.0
GIVE_UP_AFTER = 600.0


def is_transient(error: BaseException) -> bool:
    """An outage of something the bridge talks to, not a fault of the message."""
    if isinstance(error, MatrixRequestError):
        return error.http_status in (0, 502, 503, 504) or error.http_status >= 500
    return isinstance(
        error,
        (
            MatrixConnectionError,
            aiohttp.ClientError,
            ConnectionError,
            TimeoutError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,  # a connection a restart left in a broken state
            asyncpg.CannotConnectNowError,
            asyncpg.AdminShutdownError,
            sqlite3.OperationalError,
            OSError,
        ),
    )


async def retry_transient(
    attempt: Callable[[], Awaitable[None]],
    log: logging.Logger,
    what: str,
    give_up_after: float = GIVE_UP_AFTER,
    on_outage: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run ``attempt`` until it succeeds or fails for a reason other than an outage (raised);
    after ``give_up_after`` seconds of outage the last error is raised too. ``on_outage``
    runs after each transient failure (e.g. to drop a pool's dead connections)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + give_up_after
    pause = FIRST_PAUSE
    while True:
        try:
            await attempt()
            return
        except Exception as e:
            if not is_transient(e) or loop.time() > give_up:
                raise
            log.warning("%s failed (%s), retrying in %.2fs", what, e, pause)
            if on_outage is not None:
                await on_outage()
        await asyncio.sleep(pause)
        pause = min(pause * 2, MAX_PAUSE)
